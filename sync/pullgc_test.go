package sync_test

import (
	"context"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// TestPullRacingGC pulls an index into a layout again and again while gc
// runs on it without pause. Before each pull the index is unnamed, so its
// root and its arm64 platform are garbage while most of it (the amd64
// platform, kept by another name) is present: the pull skips that, writes
// the rest early, and a gc between that and the index.json update used to
// delete the new manifests under a pull that then reported success. Every
// pull must now succeed and leave the image whole, all platforms verified.
func TestPullRacingGC(t *testing.T) {
	ctx := context.Background()
	set, c, ref, dir := pulledApp(t)
	d, err := layout.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	keep, _ := layout.ParseRef("example.com/keep:amd64")
	unname := func(ims []layout.Image) ([]layout.Image, error) {
		out := []layout.Image{{Ref: keep, Desc: layout.Annotate(set.AMD64.Manifest, keep)}}
		for _, im := range ims {
			if im.Ref != keep && im.Desc.Digest != set.Index.Digest {
				out = append(out, im)
			}
		}
		return out, nil
	}
	for i := range 40 {
		if err := d.UpdateIndex(context.Background(), unname); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg gosync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g, err := layout.OpenDir(dir)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := g.GC(ctx, false); err != nil {
					t.Error(err)
				}
				g.Close()
			}
		}()
		pulled, err := sync.Pull(ctx, c, []string{ref}, dir, sync.PullOptions{})
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: pull failed beside gc: %v", i, err)
		}
		got := open(t, dir)
		ims, _ := archive.Select(got.Images, []string{pulled[0].Name})
		if len(ims) != 1 || ims[0].Desc.Digest != set.Index.Digest {
			t.Fatalf("round %d: pull reported %s, index.json holds %v", i, pulled[0].Name, got.Images)
		}
		rep := verify.Check(ctx, got, ims, nil, verify.Options{Workers: 1})
		if !rep.OK || len(rep.Warnings) > 0 || len(rep.Images) != 1 || rep.Images[0].Status != "ok" || len(rep.Images[0].Platforms) != 2 {
			t.Fatalf("round %d: layout after a pull reported as done: %+v", i, rep)
		}
	}
}

// TestPullRepairsACorruptPresentBlob: a re-pull used to skip a layer the
// layout held at the right size, corrupt or not; it must hash it, fetch it
// again, and say so.
func TestPullRepairsACorruptPresentBlob(t *testing.T) {
	ctx := context.Background()
	set, c, ref, dir := pulledApp(t)
	layer := set.ARM64.Layer.Digest
	p := filepath.Join(dir, "blobs", "sha256", layer.Encoded())
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	pulled, err := sync.Pull(ctx, c, []string{ref}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pulled) != 1 || len(pulled[0].Repaired) != 1 || pulled[0].Repaired[0] != layer {
		t.Fatalf("the pull does not say it replaced %s: %+v", layer, pulled)
	}
	got := open(t, dir)
	if rep := verify.Check(ctx, got, got.Images, nil, verify.Options{Workers: 1}); !rep.OK {
		t.Fatalf("the corrupt layer is still there: %+v", rep.Problems)
	}
}

// pulledApp pushes the standard set's multi-platform index to a fresh
// registry and pulls it into a fresh layout, for tests that then disturb
// the layout and pull again.
func pulledApp(t *testing.T) (set *testimage.Set, c *remote.Client, ref, dir string) {
	t.Helper()
	ctx := context.Background()
	reg := regtest.Start(t)
	set = testimage.New(t)
	src := open(t, set.Dir)
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	c = &remote.Client{}
	if _, err := sync.Push(ctx, c, src, app, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	ref = reg.Host + "/app:v1"
	dir = t.TempDir()
	if _, err := sync.Pull(ctx, c, []string{ref}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	return set, c, ref, dir
}
