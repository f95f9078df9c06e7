package sync_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// sparseApp is the standard set's two-platform app exported for arm64
// only: the index is whole, the amd64 image's content absent, as
// `ctr images export --platform` and docker 25+ `docker save` leave it.
func sparseApp(t *testing.T, set *testimage.Set) *archive.Source {
	t.Helper()
	src := open(t, set.Dir)
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	plats, _ := layout.ParsePlatforms("linux/arm64")
	p := filepath.Join(t.TempDir(), "sparse.tar")
	if _, err := archive.Write(context.Background(), src, app, p, archive.WriteOptions{Platforms: plats}); err != nil {
		t.Fatal(err)
	}
	return open(t, p)
}

// TestPushSparseNarrows: a sparse index goes as a narrowed index holding
// the complete platform; the registry serves it whole, the result names
// the new digest, the old one and what was left out.
func TestPushSparseNarrows(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := sparseApp(t, set)
	c := &remote.Client{}
	res, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host})
	if err != nil {
		t.Fatal(err)
	}
	p := res[0]
	if p.SourceDigest != set.Index.Digest || p.Digest == set.Index.Digest || len(p.LeftOut) != 1 ||
		!strings.Contains(p.LeftOut[0], "linux/amd64") || !strings.Contains(p.LeftOut[0], set.AMD64.Manifest.Digest.String()) {
		t.Fatalf("push result %+v", p)
	}
	checkNarrowed(t, c, reg.Host+"/app:v1", p.Digest, set.ARM64.Manifest)
}

// TestPushPlatformSubset: --platform on a whole source narrows the same
// way, by choice.
func TestPushPlatformSubset(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	plats, _ := layout.ParsePlatforms("linux/arm64")
	c := &remote.Client{}
	res, err := sync.Push(ctx, c, src, app, sync.PushOptions{To: reg.Host, Platforms: plats})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].SourceDigest != set.Index.Digest || len(res[0].LeftOut) != 1 || !strings.Contains(res[0].LeftOut[0], "not asked for") {
		t.Fatalf("push result %+v", res[0])
	}
	checkNarrowed(t, c, reg.Host+"/app:v1", res[0].Digest, set.ARM64.Manifest)
}

// TestPushNothingComplete: when no platform is whole, push refuses and
// the registry gets no tag.
func TestPushNothingComplete(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	// Take both platforms' layers away: nothing is complete.
	dir := t.TempDir()
	if _, err := archive.Import(ctx, set.Dir, dir, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []ocispec.Descriptor{set.AMD64.Layer, set.ARM64.Layer} {
		os.Remove(filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded()))
	}
	broken := open(t, dir)
	app, _ := archive.Select(broken.Images, []string{"example.com/app:v1"})
	c := &remote.Client{}
	_, err := sync.Push(ctx, c, broken, app, sync.PushOptions{To: reg.Host})
	if err == nil || !strings.Contains(err.Error(), "no platform is complete") || !strings.Contains(err.Error(), set.Index.Digest.String()) {
		t.Fatalf("want a refusal naming the index, got %v", err)
	}
	r, _ := layout.ParseRef(reg.Host + "/app:v1")
	if _, err := c.Repository(r, false).Resolve(ctx, "v1"); err == nil {
		t.Fatal("a tag was pushed for an image with nothing complete")
	}
}

// checkNarrowed pulls ref back and finds an index of exactly one entry,
// want, byte for byte, with the pushed digest.
func checkNarrowed(t *testing.T, c *remote.Client, ref string, want digest.Digest, wantChild ocispec.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	pulled, err := sync.Pull(context.Background(), c, []string{ref}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pulled[0].Digest != want || strings.Join(pulled[0].Platforms, ",") != "linux/arm64" {
		t.Fatalf("pulled %+v, want digest %s with linux/arm64", pulled[0], want)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", pulled[0].Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != wantChild.Digest || idx.Manifests[0].Platform == nil {
		t.Fatalf("narrowed index %s (%v)", raw, err)
	}
}

// TestPushSkipsUnnamed: pushing everything, an image with no repository
// name (a docker save by image ID) is left out with a note instead of
// blocking the rest; asked for by name, it is an error.
func TestPushSkipsUnnamed(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	images := append(app, layout.Image{Desc: set.Single.Manifest})
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, images, sync.PushOptions{To: reg.Host}); err == nil || !strings.Contains(err.Error(), "no repository name") {
		t.Fatalf("unnamed image pushed without SkipUnnamed: %v", err)
	}
	res, err := sync.Push(ctx, c, src, images, sync.PushOptions{To: reg.Host, SkipUnnamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].NotPushed != "" || res[0].Blobs == 0 || res[1].NotPushed == "" || res[1].Digest != set.Single.Manifest.Digest {
		t.Fatalf("push results %+v", res)
	}
	if _, err := sync.Push(ctx, c, src, images[1:], sync.PushOptions{To: reg.Host, SkipUnnamed: true}); err == nil || !strings.Contains(err.Error(), "nothing to push") {
		t.Fatalf("only unnamed: %v", err)
	}
}

// TestPushNestedSparseRefused: an index whose sparse part lies under a
// nested index is refused, never pushed with a child missing.
func TestPushNestedSparseRefused(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	amd, arm := testimage.Build(t, txn, "amd64", "a"), testimage.Build(t, txn, "arm64", "b")
	a, r := amd.Manifest, arm.Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	index := func(ds ...ocispec.Descriptor) []byte {
		b, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: ds})
		return b
	}
	inner := testimage.Put(t, txn, ocispec.MediaTypeImageIndex, index(a, r))
	outer := testimage.Put(t, txn, ocispec.MediaTypeImageIndex, index(inner))
	ref, _ := layout.ParseRef("example.com/nested:v1")
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(outer, ref)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	// --platform reaching under the nested index cannot be honoured by
	// narrowing the top level.
	plats, _ := layout.ParsePlatforms("linux/arm64")
	src := open(t, dir)
	_, err = sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host, Platforms: plats})
	if err == nil || !strings.Contains(err.Error(), "a nested index is incomplete in the source or narrowed by --platform") {
		t.Fatalf("want a refusal naming the nested index, got %v", err)
	}
	// Sparse under the nested index: the nested index is incomplete, so
	// nothing at the top is whole.
	os.Remove(filepath.Join(dir, "blobs", "sha256", arm.Layer.Digest.Encoded()))
	src = open(t, dir)
	_, err = sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host})
	if err == nil || !strings.Contains(err.Error(), "linux/arm64 "+arm.Manifest.Digest.String()+": absent from the source (sparse), under nested index "+inner.Digest.String()) {
		t.Fatalf("want a refusal naming the nested index, got %v", err)
	}
	r2, _ := layout.ParseRef(reg.Host + "/nested:v1")
	if _, err := (&remote.Client{}).Repository(r2, false).Resolve(ctx, "v1"); err == nil {
		t.Fatal("a tag was pushed")
	}
}
