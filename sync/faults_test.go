package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// seeded starts a registry holding the test images under "seed/".
func seeded(t *testing.T) (*regtest.Registry, *testimage.Set) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1", "busybox:1.36"})
	if _, err := sync.Push(context.Background(), &remote.Client{}, src, ims, sync.PushOptions{To: reg.Host + "/seed"}); err != nil {
		t.Fatal(err)
	}
	return reg, set
}

// TestPullThroughFaults: resets mid-blob, 500s and 429s give a correct,
// verified result.
func TestPullThroughFaults(t *testing.T) {
	reg, set := seeded(t)
	proxy := regtest.NewProxy(t, reg,
		regtest.Fault{Method: "GET", Path: "/blobs/sha256:", Times: 3, Kind: "reset"},
		regtest.Fault{Method: "GET", Path: "/manifests/", Times: 2, Kind: "500"},
		regtest.Fault{Method: "GET", Path: "/manifests/", Times: 1, Kind: "429"},
	)
	dir := t.TempDir()
	res, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/app:v1", proxy.Host + "/seed/library/busybox:1.36"}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Digest != set.Index.Digest || res[1].Digest != set.Single.Manifest.Digest {
		t.Fatalf("digests %s %s", res[0].Digest, res[1].Digest)
	}
	for i := range 3 {
		if proxy.Hits(i) == 0 {
			t.Fatalf("fault %d never fired", i)
		}
	}
	got := open(t, dir)
	if rep := verify.Check(context.Background(), got, got.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("pulled layout: %+v", rep.Problems)
	}
}

// TestPullCorruptBody: a blob body that does not match its digest is an
// error naming the digest, and no bad blob lands in the destination.
func TestPullCorruptBody(t *testing.T) {
	reg, set := seeded(t)
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/blobs/" + set.Single.Layer.Digest.String(), Times: 100, Kind: "corrupt"})
	dir := t.TempDir()
	_, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/library/busybox:1.36"}, dir, sync.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), set.Single.Layer.Digest.String()) {
		t.Fatalf("want a digest mismatch naming the layer, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", set.Single.Layer.Digest.Encoded())); err == nil {
		t.Fatal("the corrupt blob was committed")
	}
	got := open(t, dir)
	if len(got.Images) != 0 {
		t.Fatalf("an entry was written: %v", got.Images)
	}
}

// TestPushThroughFaults: a dropped upload, a 500 on a manifest and a 429
// on an existence check still give a complete push with digests unchanged.
func TestPushThroughFaults(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	proxy := regtest.NewProxy(t, reg,
		regtest.Fault{Method: "PUT", Path: "/blobs/uploads/", Times: 2, Kind: "500"},
		regtest.Fault{Method: "PUT", Path: "/manifests/", Times: 1, Kind: "500"},
		regtest.Fault{Method: "HEAD", Path: "/blobs/", Times: 2, Kind: "429"},
	)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	res, err := sync.Push(context.Background(), &remote.Client{}, src, ims, sync.PushOptions{To: proxy.Host})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pulled, err := sync.Pull(context.Background(), &remote.Client{}, []string{reg.Host + "/app:v1"}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pulled[0].Digest != res[0].Digest || res[0].Digest != set.Index.Digest {
		t.Fatalf("pushed %s, pulled %s, want %s", res[0].Digest, pulled[0].Digest, set.Index.Digest)
	}
}

// TestPullArchiveThroughFaults: streaming into an archive, where each
// blob is read ahead on its own goroutine, survives resets mid-blob with a
// sound archive; and closing a blob stream early, while the read-ahead may
// be resuming, neither hangs nor races.
func TestPullArchiveThroughFaults(t *testing.T) {
	ctx := context.Background()
	reg, set := seeded(t)
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/blobs/sha256:", Times: 4, Kind: "reset"})
	plan, err := sync.Resolve(ctx, &remote.Client{}, []string{proxy.Host + "/seed/app:v1", proxy.Host + "/seed/library/busybox:1.36"}, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "a.tar")
	if _, err := archive.Write(ctx, plan.Sources, plan.Images, p, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if proxy.Hits(0) == 0 {
		t.Fatal("the reset never fired")
	}
	got := open(t, p)
	if rep := verify.Check(ctx, got, got.Images, nil, verify.Options{}); !rep.OK || len(got.Images) != 2 {
		t.Fatalf("archive: %d images, %+v", len(got.Images), rep.Problems)
	}

	proxy = regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/blobs/sha256:", Times: 100, Kind: "reset"})
	plan, err = sync.Resolve(ctx, &remote.Client{}, []string{proxy.Host + "/seed/app:v1"}, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := plan.Sources.Fetch(ctx, set.ARM64.Layer)
	if err != nil {
		t.Fatal(err)
	}
	ra := layout.NewReadAhead(rc, 2)
	var b [8]byte
	ra.Read(b[:])
	done := make(chan struct{})
	go func() { ra.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("closing a read-ahead blob stream hung")
	}
}
