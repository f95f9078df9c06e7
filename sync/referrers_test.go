package sync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

func TestFallbackTag(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:" + strings.Repeat("a", 64):  "sha256-" + strings.Repeat("a", 64),
		"sha512:" + strings.Repeat("a", 128): "sha512-" + strings.Repeat("a", 64),
	} {
		if got := remote.FallbackTag(digestOf(in)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

// TestReferrersRoundTrip: an SBOM whose subject is busybox is pushed to
// busybox's repository with the fallback tag index maintained (the
// reference registry has no referrers API), and pull --referrers brings
// it back, named by digest in that repository.
func TestReferrersRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	ref, _ := layout.ParseRef(reg.Host + "/library/busybox:1.36")
	refs, err := c.Repository(ref, false).Referrers(ctx, set.Single.Manifest.Digest)
	if err != nil || len(refs) != 1 || refs[0].Digest != set.Referrer.Digest || refs[0].ArtifactType != "application/vnd.example.sbom" {
		t.Fatalf("referrers of busybox: %+v, %v", refs, err)
	}
	dir := t.TempDir()
	res, err := sync.Pull(ctx, c, []string{reg.Host + "/library/busybox:1.36"}, dir, sync.PullOptions{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	want := layout.Ref{Repo: reg.Host + "/library/busybox", Digest: set.Referrer.Digest}.String()
	found := false
	for _, im := range open(t, dir).Images {
		found = found || im.Name() == want
	}
	if !found || len(res) != 2 {
		t.Fatalf("pulled %+v; want %s among the images", res, want)
	}
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }
