package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

func open(t *testing.T, p string) *archive.Source {
	t.Helper()
	s, err := archive.Open(context.Background(), p, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRoundTripThroughRegistry pushes a multi-platform index, a tagged
// image and a referrer to the real registry, pulls them back by tag and by
// digest, and finds every digest unchanged; a second push sends nothing.
func TestRoundTripThroughRegistry(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	named, _ := archive.Select(src.Images, []string{"example.com/app:v1", "busybox:1.36"})
	c := &remote.Client{}
	res, err := sync.Push(ctx, c, src, named, sync.PushOptions{To: reg.Host + "/mirror"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, p := range res {
		if !strings.HasPrefix(p.Target, reg.Host+"/mirror/") || p.Blobs == 0 {
			t.Fatalf("push result %+v", p)
		}
		want[strings.Split(p.Target, "@")[0]] = p.Digest.String()
	}
	again, err := sync.Push(ctx, c, src, named, sync.PushOptions{To: reg.Host + "/mirror"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if p.Blobs != 0 {
			t.Fatalf("second push sent %d blobs: %+v", p.Blobs, p)
		}
	}
	dir := filepath.Join(t.TempDir(), "pulled")
	var refs []string
	for name := range want {
		refs = append(refs, name)
	}
	refs = append(refs, reg.Host+"/mirror/library/busybox@"+set.Single.Manifest.Digest.String())
	pulled, err := sync.Pull(ctx, c, refs, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pulled {
		if w, ok := want[p.Source]; ok && w != p.Digest.String() {
			t.Fatalf("%s came back as %s, pushed %s", p.Source, p.Digest, w)
		}
	}
	got := open(t, dir)
	if len(got.Images) != 3 {
		t.Fatalf("pulled images: %v", got.Images)
	}
	rep := verify.Check(ctx, got, got.Images, nil, verify.Options{})
	if !rep.OK {
		t.Fatalf("pulled layout: %+v", rep.Problems)
	}
}

// TestPullPlatformSubset keeps the index and only one platform's blobs.
func TestPullPlatformSubset(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, app, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	plats, _ := layout.ParsePlatforms("linux/arm64")
	dir := t.TempDir()
	res, err := sync.Pull(ctx, c, []string{reg.Host + "/app:v1"}, dir, sync.PullOptions{Platforms: plats})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Filtered || res[0].Digest != set.Index.Digest || strings.Join(res[0].Platforms, ",") != "linux/arm64" {
		t.Fatalf("pull result %+v", res[0])
	}
	if _, err := os.Stat(set.BlobFile(set.AMD64.Layer)); err != nil {
		t.Fatal("fixture changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", set.AMD64.Layer.Digest.Encoded())); err == nil {
		t.Fatal("amd64 layer was pulled")
	}
}

// TestPushRefusesCorruptSource: a blob that does not match its digest is
// caught while it is read, and the tag is never written.
func TestPushRefusesCorruptSource(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	b, _ := os.ReadFile(set.BlobFile(set.Single.Layer))
	b[7] ^= 1
	os.WriteFile(set.BlobFile(set.Single.Layer), b, 0o644)
	src := open(t, set.Dir)
	bb, _ := archive.Select(src.Images, []string{"busybox:1.36"})
	c := &remote.Client{}
	_, err := sync.Push(ctx, c, src, bb, sync.PushOptions{To: reg.Host})
	if err == nil || !strings.Contains(err.Error(), set.Single.Layer.Digest.String()) {
		t.Fatalf("want a digest error naming the layer, got %v", err)
	}
	repoRef, _ := layout.ParseRef(reg.Host + "/library/busybox:1.36")
	if _, err := c.Repository(repoRef, false).Resolve(ctx, "1.36"); err == nil {
		t.Fatal("the tag was pushed despite a corrupt layer")
	}
}

// TestCrossRepositoryMount: a blob already pushed to one repository is
// mounted, not uploaded again, when another repository of the same
// registry needs it.
func TestCrossRepositoryMount(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	c := &remote.Client{}
	bb, _ := archive.Select(src.Images, []string{"busybox:1.36"})
	if _, err := sync.Push(ctx, c, src, bb, sync.PushOptions{To: reg.Host + "/one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sync.Push(ctx, c, src, bb, sync.PushOptions{To: reg.Host + "/two"}); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(reg.Log)
	var mounts, puts int
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"POST /v2/two/library/busybox/blobs/uploads/?`) && strings.Contains(l, "mount=") {
			mounts++
		}
		if strings.Contains(l, `"PUT /v2/two/library/busybox/blobs/uploads/`) {
			puts++
		}
	}
	if mounts != 2 || puts != 0 {
		t.Fatalf("want the config and layer mounted into two/ (2 mounts, 0 uploads), got %d mounts, %d uploads", mounts, puts)
	}
	if _, err := sync.Pull(ctx, c, []string{reg.Host + "/two/library/busybox:1.36"}, t.TempDir(), sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
}
