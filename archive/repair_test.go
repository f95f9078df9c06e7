package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// flip corrupts one byte of a blob in a layout, keeping its size, as a
// failing stick does.
func flip(t *testing.T, dir string, d digest.Digest) {
	t.Helper()
	p := filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sound opens dir and verifies every image in it.
func sound(t *testing.T, dir string) bool {
	t.Helper()
	s, err := archive.Open(context.Background(), dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return audit(s).OK
}

// sharing builds, in a layout of its own, an image for another
// architecture whose layer is byte for byte the amd64 layer of set, and
// writes it out as a .tar.gz too (read as a stream, not in place).
func sharing(t *testing.T, set *testimage.Set) (dir, tgz string) {
	dir = t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	im := testimage.Build(t, txn, "386", "hello from amd64")
	if im.Layer.Digest != set.AMD64.Layer.Digest {
		t.Fatal("fixture: the layer is not shared")
	}
	ref, _ := layout.ParseRef("example.com/other:1")
	imgs := []layout.Image{{Ref: ref, Desc: layout.Annotate(im.Manifest, ref)}}
	if err := txn.Commit(context.Background(), nil, imgs); err != nil {
		t.Fatal(err)
	}
	tgz = filepath.Join(t.TempDir(), "other.tar.gz")
	if _, err := archive.Write(context.Background(), d, imgs, tgz, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	return dir, tgz
}

// TestImportFindsAndRepairsACorruptPresentBlob: a layer in the destination
// has one byte flipped (same size). An import of another image sharing the
// layer used to trust it and say "all verified"; it must hash it, say so,
// and replace it from the source, read in place or as a stream, and so
// must a re-import of the good image.
func TestImportFindsAndRepairsACorruptPresentBlob(t *testing.T) {
	ctx := context.Background()
	set := testimage.New(t)
	other, otherTgz := sharing(t, set)
	layer := set.AMD64.Layer.Digest
	for _, tc := range []struct{ name, src string }{
		{"another image, in place", other},
		{"another image, streamed", otherTgz},
		{"the same image again", set.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := archive.Import(ctx, set.Dir, dst, archive.ImportOptions{Names: []string{"example.com/app:v1"}}); err != nil {
				t.Fatal(err)
			}
			flip(t, dst, layer)
			if sound(t, dst) {
				t.Fatal("fixture: the flipped layer verifies")
			}
			res, err := archive.Import(ctx, tc.src, dst, archive.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !sound(t, dst) {
				t.Fatalf("the corrupt layer %s is still in the layout after the import", layer)
			}
			// Read in place, the bad copy is hashed and named; a stream is
			// staged whole and replaces it without looking.
			if tc.src != otherTgz && !slices.Contains(res.Repaired, layer) {
				t.Fatalf("the import does not say it replaced %s: %+v", layer, res)
			}
		})
	}
}
