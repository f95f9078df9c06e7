package sync_test

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestRegistryHaveThroughFaults: a tags page and a manifest that fail
// once are retried and give the same list as a clean run; one that keeps
// failing stops the run with an error naming the image, and no list.
func TestRegistryHaveThroughFaults(t *testing.T) {
	reg, set := seeded(t)
	ctx := context.Background()
	repos := func(host string) []layout.Ref {
		return []layout.Ref{{Repo: host + "/seed/app"}, {Repo: host + "/seed/library/busybox"}}
	}
	clean, rep, err := sync.RegistryHave(ctx, &remote.Client{}, repos(reg.Host), sync.HaveOptions{})
	if err != nil || rep.Tags != 2 || clean.Blobs() != 10 {
		t.Fatalf("clean run: %v, %+v, %d blobs", err, rep, clean.Blobs())
	}
	var want strings.Builder
	clean.Encode(&want)

	flaky := regtest.NewProxy(t, reg, regtest.Fault{Path: "/tags/list", Kind: "500", Times: 1},
		regtest.Fault{Path: "/manifests/" + set.AMD64.Manifest.Digest.String(), Kind: "reset", Times: 1})
	h, _, err := sync.RegistryHave(ctx, &remote.Client{}, repos(flaky.Host), sync.HaveOptions{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if flaky.Hits(0) != 1 || flaky.Hits(1) != 1 {
		t.Fatalf("faults fired %d and %d times", flaky.Hits(0), flaky.Hits(1))
	}
	var got strings.Builder
	h.Encode(&got)
	names := strings.NewReplacer(flaky.Host, reg.Host).Replace(got.String())
	if names != want.String() {
		t.Fatalf("list through faults differs:\n%s\nwant\n%s", names, want.String())
	}

	broken := regtest.NewProxy(t, reg, regtest.Fault{Path: "/manifests/1.36", Kind: "500", Times: 100})
	_, _, err = sync.RegistryHave(ctx, &remote.Client{Retries: 1}, repos(broken.Host), sync.HaveOptions{})
	if err == nil || !strings.Contains(err.Error(), broken.Host+"/seed/library/busybox:1.36") {
		t.Fatalf("err = %v", err)
	}
	// A manifest whose connection always drops is an error, not a
	// shorter list.
	cut := regtest.NewProxy(t, reg, regtest.Fault{Path: "/manifests/" + set.ARM64.Manifest.Digest.String(), Kind: "reset", Times: 100})
	_, _, err = sync.RegistryHave(ctx, &remote.Client{Retries: 1}, repos(cut.Host), sync.HaveOptions{})
	if err == nil || !strings.Contains(err.Error(), cut.Host+"/seed/app") || !strings.Contains(err.Error(), set.ARM64.Manifest.Digest.String()) {
		t.Fatalf("err = %v", err)
	}
	// A manifest that never arrives intact is left out, with its blobs,
	// and reported: its content travels again rather than being trusted.
	bad := regtest.NewProxy(t, reg, regtest.Fault{Path: "/manifests/" + set.ARM64.Manifest.Digest.String(), Kind: "corrupt", Times: 100})
	h, rep, err = sync.RegistryHave(ctx, &remote.Client{}, repos(bad.Host), sync.HaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []ocispec.Descriptor{set.ARM64.Manifest, set.ARM64.Config, set.ARM64.Layer} {
		if h.Has(d) {
			t.Errorf("%s is listed although its manifest was corrupt", d.Digest)
		}
	}
	if h.Blobs() != 7 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], set.ARM64.Manifest.Digest.String()) {
		t.Fatalf("%d blobs, skipped %q", h.Blobs(), rep.Skipped)
	}
}
