package layout_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// gcFixture is a layout with one named multi-arch image, an orphan blob
// and the staging area of a crashed session.
type gcFixture struct {
	d      *layout.Dir
	m      multiArch
	orphan ocispec.Descriptor
	dead   string
}

func newGCFixture(t *testing.T) gcFixture {
	d := newDir(t)
	f := gcFixture{d: d, m: buildMultiArch(t, d)}
	addImage(t, d, named(t, f.m.Index, "app:1"))
	b, _ := storetest.Blob(t, 777)
	f.orphan = pushBytes(t, d, ocispec.MediaTypeImageLayer, b)
	// A crashed process leaves its staging dir and lock file, unlocked.
	f.dead = filepath.Join(d.Path(), ".ferry", "tmp", "s-dead")
	if err := os.MkdirAll(f.dead, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.dead, "b-0123"), []byte("half a blob"), 0o644)
	os.WriteFile(f.dead+".lock", nil, 0o644)
	return f
}

func (f gcFixture) live() []ocispec.Descriptor {
	var out []ocispec.Descriptor
	for _, im := range []testImage{f.m.AMD64, f.m.ARM64, f.m.AttAMD64Image, f.m.AttARM64Image} {
		out = append(out, im.blobs()...)
		out = append(out, im.Manifest)
	}
	return append(out, f.m.Index)
}

func exists(t *testing.T, s layout.Store, d ocispec.Descriptor) bool {
	t.Helper()
	ok, err := s.Exists(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestGC(t *testing.T) {
	f := newGCFixture(t)
	res, err := f.d.GC(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Digest != f.orphan.Digest || res.Freed != f.orphan.Size {
		t.Fatalf("GC removed %+v (%d bytes), want only the orphan", res.Removed, res.Freed)
	}
	if exists(t, f.d, f.orphan) {
		t.Fatal("the orphan blob is still there")
	}
	for _, d := range f.live() {
		if !exists(t, f.d, d) {
			t.Fatalf("referenced %s %s was removed", d.MediaType, d.Digest)
		}
	}
	if res.Stale < 1 || res.StaleBytes != int64(len("half a blob")) {
		t.Fatalf("Stale = %d (%d bytes), want the crashed session counted with its bytes", res.Stale, res.StaleBytes)
	}
	for _, p := range []string{f.dead, f.dead + ".lock"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Fatalf("%s survived gc: %v", p, err)
		}
	}
	// The layout still walks completely.
	if _, err := layout.Walk(context.Background(), f.d, []ocispec.Descriptor{f.m.Index}, layout.WalkOptions{CheckBlobs: true}); err != nil {
		t.Fatal(err)
	}
}

func TestGCDryRun(t *testing.T) {
	f := newGCFixture(t)
	before := snapshot(t, f.d.Path())
	res, err := f.d.GC(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Stale < 1 {
		t.Fatalf("dry run reported %d blobs, %d stale; want 1 and at least 1", len(res.Removed), res.Stale)
	}
	assertSnapshot(t, f.d.Path(), before)
	if _, err := os.Stat(f.dead); err != nil {
		t.Fatalf("dry run removed the stale session: %v", err)
	}
}

// A session that is alive (another handle, another process) holds its
// lock; gc must leave its staged blobs alone.
func TestGCKeepsLiveSession(t *testing.T) {
	ctx := context.Background()
	f := newGCFixture(t)
	other, err := layout.OpenDir(f.d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	txn := other.Begin()
	b, staged := storetest.Blob(t, 500)
	if err := txn.Push(ctx, staged, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !exists(t, txn, staged) {
		t.Fatal("gc removed a blob staged by a live session")
	}
	if err := txn.Commit(context.Background(), nil, nil); err != nil {
		t.Fatalf("Commit after gc: %v", err)
	}
	if !exists(t, f.d, staged) {
		t.Fatal("staged blob not committed")
	}
}

// gc of a layout whose index references missing content keeps what it
// has instead of failing (sparse layouts are legal).
func TestGCSparse(t *testing.T) {
	f := newGCFixture(t)
	p, _ := layout.BlobPath(f.m.AMD64.Layers[0].Digest)
	if err := os.Remove(filepath.Join(f.d.Path(), p)); err != nil {
		t.Fatal(err)
	}
	res, err := f.d.GC(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 {
		t.Fatalf("sparse gc removed %d blobs, want 1 (the orphan)", len(res.Removed))
	}
	if !exists(t, f.d, f.m.ARM64.Layers[0]) {
		t.Fatal("gc of a sparse layout dropped referenced content")
	}
}
