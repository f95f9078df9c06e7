package sync_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// updating sits in front of reg as a registry being updated while it is
// described: the first HEAD of seed/app:v1 deletes that tag before it is
// answered, and the first tags list of seed/library/busybox removes that
// repository. Both answers are then the real registry's.
func updating(t *testing.T, reg *regtest.Registry) *regtest.Proxy {
	change := func(fn func() error) func(*http.Request) {
		return func(*http.Request) {
			if err := fn(); err != nil {
				t.Error(err)
			}
		}
	}
	return regtest.NewProxy(t, reg,
		regtest.Fault{Method: http.MethodHead, Path: "/v2/seed/app/manifests/v1", Times: 1,
			Before: change(func() error { return reg.DeleteTag("seed/app", "v1") })},
		regtest.Fault{Method: http.MethodGet, Path: "/v2/seed/library/busybox/tags/list", Times: 1,
			Before: change(func() error { return reg.RemoveRepository("seed/library/busybox") })})
}

// seededTwice is seeded with seed/app:v1 also tagged v2, so the app
// repository keeps a tag when v1 goes.
func seededTwice(t *testing.T) (*regtest.Registry, *testimage.Set) {
	reg, set := seeded(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	as, _ := layout.ParseRef(reg.Host + "/seed/app:v2")
	if _, err := sync.Push(context.Background(), &remote.Client{}, src, ims, sync.PushOptions{As: &as}); err != nil {
		t.Fatal(err)
	}
	return reg, set
}

// TestRegistryHaveWhileUpdated: a tag deleted between the tag list and
// its HEAD, and a repository deleted between the catalog and its tag
// list, are left out with a note naming them, and the run lists the rest:
// a registry being updated must not fail a have-list of everything else.
func TestRegistryHaveWhileUpdated(t *testing.T) {
	reg, set := seededTwice(t)
	ctx := context.Background()
	proxy := updating(t, reg)
	host := proxy.Host
	c := &remote.Client{}
	repos, err := sync.CatalogRepositories(ctx, c, host, sync.HaveOptions{})
	if err != nil || len(repos) != 2 {
		t.Fatalf("catalog: %v %v", repos, err)
	}
	h, rep, err := sync.RegistryHave(ctx, c, repos, sync.HaveOptions{Catalog: true})
	if err != nil {
		t.Fatalf("a registry updated while described failed the run: %v", err)
	}
	if proxy.Hits(0) != 1 || proxy.Hits(1) != 1 {
		t.Fatalf("the registry was changed %d and %d times, want once each", proxy.Hits(0), proxy.Hits(1))
	}
	var names []string
	for _, im := range h.Images {
		names = append(names, im.Name)
	}
	if len(names) != 1 || names[0] != host+"/seed/app:v2" {
		t.Fatalf("images %q, want only seed/app:v2", names)
	}
	if !h.Has(set.Index) || !h.Has(set.AMD64.Layer) || h.Has(set.Single.Manifest) {
		t.Fatal("the list does not hold exactly what seed/app:v2 holds")
	}
	if rep.Tags != 1 || rep.Repositories != 1 || len(rep.Skipped) != 2 {
		t.Fatalf("report %+v", rep)
	}
	all := strings.Join(rep.Skipped, "\n")
	for _, w := range []string{host + "/seed/app:v1: the tag list named it, but it was gone", host + "/seed/library/busybox: the catalog listed it, but it was gone"} {
		if !strings.Contains(all, w) {
			t.Errorf("skipped %q does not say %q", all, w)
		}
	}
	// A repository the user names is not the catalog's: if it is not
	// there, that is an error, not an empty list.
	if _, _, err := sync.RegistryHave(ctx, c, []layout.Ref{{Repo: host + "/seed/library/busybox"}}, sync.HaveOptions{}); err == nil {
		t.Fatal("a named repository that does not exist gave a list")
	}
}
