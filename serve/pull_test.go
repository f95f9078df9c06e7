package serve_test

import (
	"context"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/serve"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// TestFerryPullsFromServe pulls every image of a layout, of the same
// images in a tar read in place and in a volume set, with ferry's own
// registry client, under both the short and the full names, referrers
// included, and finds every digest as it was.
func TestFerryPullsFromServe(t *testing.T) {
	ctx := context.Background()
	set := testimage.New(t)
	src, err := archive.Open(ctx, set.Dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tarPath := filepath.Join(t.TempDir(), "images.tar")
	if _, err := archive.Write(ctx, src, src.Images, tarPath, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	volDir := t.TempDir()
	res, err := archive.Write(ctx, src, src.Images, filepath.Join(volDir, "images.tar"), archive.WriteOptions{VolumeSize: 10 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 2 {
		t.Fatalf("volume set of %d volumes; the test wants a split", len(res.Volumes))
	}
	for _, tc := range []struct{ name, path string }{{"layout", set.Dir}, {"tar", tarPath}, {"volumes", volDir}} {
		t.Run(tc.name, func(t *testing.T) {
			_, host := start(t, tc.path, serve.Config{})
			want := map[string]string{
				host + "/library/busybox:1.36":                                   set.Single.Manifest.Digest.String(),
				host + "/docker.io/library/busybox:latest":                       set.Single.Manifest.Digest.String(),
				host + "/app:v1":                                                 set.Index.Digest.String(),
				host + "/example.com/app:v1":                                     set.Index.Digest.String(),
				host + "/library/busybox@" + set.Single.Manifest.Digest.String(): set.Single.Manifest.Digest.String(),
			}
			var refs []string
			for r := range want {
				refs = append(refs, r)
			}
			dir := filepath.Join(t.TempDir(), "pulled")
			pulled, err := sync.Pull(ctx, &remote.Client{}, refs, dir, sync.PullOptions{Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			sawReferrer := false
			for _, p := range pulled {
				if w, ok := want[p.Source]; ok && w != p.Digest.String() {
					t.Errorf("%s came as %s, stored as %s", p.Source, p.Digest, w)
				}
				sawReferrer = sawReferrer || p.Digest == set.Referrer.Digest
			}
			if !sawReferrer {
				t.Errorf("the referrer %s of busybox was not pulled: %+v", set.Referrer.Digest, pulled)
			}
			got, err := archive.Open(ctx, dir, archive.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			rep := verify.Check(ctx, got, got.Images, nil, verify.Options{})
			if !rep.OK {
				t.Fatalf("pulled layout: %+v", rep.Problems)
			}
			// Every blob the store holds under the images came through.
			g, err := layout.Walk(ctx, src, []ocispec.Descriptor{set.Index, set.Single.Manifest, set.Referrer}, layout.WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range g.Descriptors() {
				if ok, err := got.Exists(ctx, d); err != nil || !ok {
					t.Errorf("%s %s not pulled (%v)", d.MediaType, d.Digest, err)
				}
			}
		})
	}
}
