package sync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// updating sits in front of reg as a registry being updated while it is
// described: the first HEAD of seed/app:v1 deletes that tag (through the
// registry's own API) before it is answered, and the first tags list of
// seed/library/busybox removes that repository from the registry's
// storage before it is answered. Both answers are the real registry's.
func updating(t *testing.T, reg *regtest.Registry) (host string, fired func() int) {
	up, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(up)
	var mu gosync.Mutex
	n := 0
	once := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !once[r.Method+r.URL.Path]
		once[r.Method+r.URL.Path] = true
		mu.Unlock()
		switch {
		case first && r.Method == http.MethodHead && r.URL.Path == "/v2/seed/app/manifests/v1":
			req, _ := http.NewRequest(http.MethodDelete, "http://"+reg.Host+"/v2/seed/app/manifests/v1", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Errorf("deleting tag v1: %v %v", err, resp)
			} else {
				mu.Lock()
				n++
				mu.Unlock()
			}
		case first && r.Method == http.MethodGet && r.URL.Path == "/v2/seed/library/busybox/tags/list":
			if err := os.RemoveAll(filepath.Join(reg.Dir, "data", "docker", "registry", "v2", "repositories", "seed", "library", "busybox")); err != nil {
				t.Error(err)
			} else {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestRegistryHaveWhileUpdated: a tag deleted between the tag list and
// its HEAD, and a repository deleted between the catalog and its tag
// list, are left out with a note naming them, and the run lists the rest:
// a registry being updated must not fail a have-list of everything else.
func TestRegistryHaveWhileUpdated(t *testing.T) {
	reg, set := seeded(t)
	ctx := context.Background()
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	as, _ := layout.ParseRef(reg.Host + "/seed/app:v2")
	if _, err := sync.Push(ctx, &remote.Client{}, src, ims, sync.PushOptions{As: &as}); err != nil {
		t.Fatal(err)
	}
	host, fired := updating(t, reg)
	c := &remote.Client{}
	repos, err := sync.CatalogRepositories(ctx, c, host, sync.HaveOptions{})
	if err != nil || len(repos) != 2 {
		t.Fatalf("catalog: %v %v", repos, err)
	}
	h, rep, err := sync.RegistryHave(ctx, c, repos, sync.HaveOptions{Catalog: true})
	if err != nil {
		t.Fatalf("a registry updated while described failed the run: %v", err)
	}
	if fired() != 2 {
		t.Fatalf("the registry was changed %d times, want 2", fired())
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
