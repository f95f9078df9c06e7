package layout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func addImage(t *testing.T, d *layout.Dir, ims ...layout.Image) {
	t.Helper()
	if err := d.UpdateIndex(context.Background(), func(cur []layout.Image) ([]layout.Image, error) {
		return layout.MergeImages(cur, ims), nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestTxnStagedInvisibleUntilCommit(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	before := snapshot(t, d.Path())
	txn := d.Begin()
	im := buildImage(t, txn, nil, 2)
	all := append(im.blobs(), im.Manifest)
	for _, desc := range all {
		if ok, _ := d.Exists(ctx, desc); ok {
			t.Fatalf("%s is visible in the layout before Commit", desc.Digest)
		}
		if ok, _ := txn.Exists(ctx, desc); !ok {
			t.Fatalf("%s is not visible in its own transaction", desc.Digest)
		}
		if _, ok := txn.StagedPath(desc.Digest); !ok {
			t.Fatalf("%s has no staged path", desc.Digest)
		}
	}
	if _, err := layout.FetchNode(ctx, txn, im.Manifest); err != nil {
		t.Fatalf("reading a staged manifest through the txn: %v", err)
	}
	assertSnapshot(t, d.Path(), before)

	if err := txn.Commit(context.Background(), nil, []layout.Image{named(t, im.Manifest, "app:1")}); err != nil {
		t.Fatal(err)
	}
	for _, desc := range all {
		if ok, _ := d.Exists(ctx, desc); !ok {
			t.Fatalf("%s missing after Commit", desc.Digest)
		}
	}
	g, err := layout.Walk(ctx, d, []ocispec.Descriptor{im.Manifest}, layout.WalkOptions{CheckBlobs: true})
	if err != nil || len(g.Blobs) != 3 {
		t.Fatalf("Walk of the committed image: %v", err)
	}
	if ims, err := d.Images(); err != nil || len(ims) != 1 || ims[0].Desc.Digest != im.Manifest.Digest {
		t.Fatalf("index after Commit: %+v, %v", ims, err)
	}
	if files := stagedFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("Commit left staged files: %q", files)
	}
}

func TestTxnAbortLeavesLayout(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	old := buildImage(t, d, nil, 1)
	addImage(t, d, named(t, old.Manifest, "old:1"))
	before := snapshot(t, d.Path())

	txn := d.Begin()
	im := buildImage(t, txn, nil, 3)
	pushBytes(t, txn, old.Layers[0].MediaType, mustFetch(t, d, old.Layers[0])) // already present
	ing, err := txn.Ingest(ctx, strings.NewReader("streamed entry"), "")
	if err != nil {
		t.Fatal(err)
	}
	txn.Abort()

	assertSnapshot(t, d.Path(), before)
	if files := stagedFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("Abort left staged files: %q", files)
	}
	for _, desc := range []ocispec.Descriptor{im.Manifest, im.Config, ing} {
		if ok, _ := txn.Exists(ctx, desc); ok {
			t.Fatalf("%s still visible through the aborted txn", desc.Digest)
		}
	}
	if ok, _ := txn.Exists(ctx, old.Layers[0]); !ok {
		t.Fatal("Abort hid a blob the layout already had")
	}
}

func mustFetch(t *testing.T, s layout.Store, d ocispec.Descriptor) []byte {
	t.Helper()
	b, err := storetest.FetchBytes(context.Background(), s, d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTxnCommitSortedAndMerged(t *testing.T) {
	d := newDir(t)
	addImage(t, d, named(t, entry("b", nil), "b:1"), named(t, entry("z-old", nil), "z:1"))
	txn := d.Begin()
	add := []layout.Image{
		named(t, entry("z-new", nil), "z:1"), // moves the tag
		layout.InterpretEntry(entry("unnamed", nil)),
		named(t, entry("a", nil), "a:1"),
		layout.InterpretEntry(entry("tag", map[string]string{refName: "t"})),
		named(t, entry("m", nil), "ghcr.io/m:1"),
	}
	if err := txn.Commit(context.Background(), nil, add); err != nil {
		t.Fatal(err)
	}
	raw, err := d.ReadFile("index.json", layout.MaxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range idx.Manifests {
		names = append(names, layout.InterpretEntry(m).Name())
	}
	want := []string{":t", "@" + entry("unnamed", nil).Digest.String(), "docker.io/library/a:1", "docker.io/library/b:1", "docker.io/library/z:1", "ghcr.io/m:1"}
	if !slices.Equal(names, want) {
		t.Fatalf("index.json order:\n got %q\nwant %q", names, want)
	}
	for _, m := range idx.Manifests {
		if m.Annotations[layout.AnnotationImageName] == "docker.io/library/z:1" && m.Digest != entry("z-new", nil).Digest {
			t.Fatal("the moved tag still points at the old digest")
		}
	}
}

func TestTxnCommitKeep(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	txn := d.Begin()
	kb, keep := storetest.Blob(t, 100)
	db, drop := storetest.Blob(t, 100)
	pushBytes(t, txn, keep.MediaType, kb)
	pushBytes(t, txn, drop.MediaType, db)
	if err := txn.Commit(context.Background(), map[digest.Digest]bool{keep.Digest: true}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.Exists(ctx, keep); !ok {
		t.Fatal("kept blob not committed")
	}
	if ok, _ := d.Exists(ctx, drop); ok {
		t.Fatal("blob outside keep was committed")
	}
	if files := stagedFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("Commit left the dropped blob staged: %q", files)
	}
}

func TestTxnIngest(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	txn := d.Begin()
	defer txn.Abort()
	content := []byte("an archive entry whose digest comes from its name")
	got, err := txn.Ingest(ctx, bytes.NewReader(content), "")
	if err != nil || got.Digest != digest.FromBytes(content) || got.Size != int64(len(content)) {
		t.Fatalf("Ingest = %+v, %v", got, err)
	}
	if b := mustFetch(t, txn, got); !bytes.Equal(b, content) {
		t.Fatal("ingested content differs")
	}
	sha512 := digest.SHA512.FromBytes(content)
	if got, err := txn.Ingest(ctx, bytes.NewReader(content), sha512); err != nil || got.Digest != sha512 {
		t.Fatalf("Ingest(want sha512) = %+v, %v", got, err)
	}
	wrong := digest.FromString("other")
	if _, err := txn.Ingest(ctx, bytes.NewReader(content), wrong); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("Ingest with the wrong digest: %v, want ErrDigestMismatch", err)
	}
	if ok, _ := txn.Exists(ctx, ocispec.Descriptor{Digest: wrong, Size: int64(len(content))}); ok {
		t.Fatal("mismatching content was staged under the wanted digest")
	}
	if _, err := txn.Ingest(ctx, bytes.NewReader(content), "sha256:../../x"); !errors.Is(err, layout.ErrInvalidDigest) {
		t.Fatalf("Ingest with an invalid digest: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := txn.Ingest(cctx, bytes.NewReader(content), ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest with a cancelled context: %v", err)
	}
}

// A blob the layout already holds is not staged again. If gc removes it
// (it was unreferenced) between Push and Commit, Commit must not publish
// an index entry whose content is gone.
func TestTxnCommitAfterGC(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	scratch := d.Begin()
	im := buildImage(t, scratch, nil, 1)
	if err := scratch.Commit(context.Background(), nil, nil); err != nil { // blobs present, nothing references them
		t.Fatal(err)
	}
	txn := d.Begin()
	for _, desc := range append(im.blobs(), im.Manifest) {
		pushBytes(t, txn, desc.MediaType, mustFetch(t, d, desc))
	}
	if _, err := d.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	err := txn.Commit(context.Background(), nil, []layout.Image{named(t, im.Manifest, "app:1")})
	if err == nil {
		if _, werr := layout.Walk(ctx, d, []ocispec.Descriptor{im.Manifest}, layout.WalkOptions{CheckBlobs: true}); werr != nil {
			t.Fatalf("Commit succeeded but the committed image is incomplete: %v", werr)
		}
	}
}
