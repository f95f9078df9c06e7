package archive_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// sharedLayout holds two images of one big layer (amd64 and arm64
// configs over the same content) and a third of its own small layer.
func sharedLayout(t *testing.T) (*archive.Source, digest.Digest) {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	b := make([]byte, 400<<10)
	rand.New(rand.NewSource(3)).Read(b)
	a := testimage.Build(t, txn, "amd64", string(b))
	c := testimage.Build(t, txn, "arm64", string(b))
	o := testimage.Build(t, txn, "amd64", "small and alone")
	var ims []layout.Image
	for i, im := range []testimage.Image{a, c, o} {
		r, _ := layout.ParseRef([]string{"example.com/shared-a:1", "example.com/shared-b:1", "example.com/other:1"}[i])
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(im.Manifest, r)})
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	d.Close()
	return open(t, dir), a.Layer.Digest
}

// cutInChunk truncates the plain volume that holds chunk 2 of blob in the
// middle of that chunk, as a stick that filled up would, and returns it.
func cutInChunk(t *testing.T, res *archive.Result, blob digest.Digest) string {
	t.Helper()
	for _, v := range res.Volumes {
		f, _ := os.Open(v)
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if h.Name == "ferry-chunks/sha256/"+blob.Encoded()+".2" {
				pos, _ := f.Seek(0, io.SeekCurrent)
				f.Close()
				if err := os.Truncate(v, pos+h.Size/2); err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
		f.Close()
	}
	t.Fatalf("no chunk 2 of %s in the set", blob)
	return ""
}

// TestCutVolumeNamesImages: a volume cut short names, besides the file,
// the volume and the blob it lost, every image that needs that blob (and
// no other), whether the set is read in place (import, verify) or
// streamed (a compressed set, volumes fed one at a time); the import
// writes nothing.
func TestCutVolumeNamesImages(t *testing.T) {
	src, blob := sharedLayout(t)
	for _, c := range []struct {
		name   string
		stream bool
	}{{"in place", false}, {"streamed", true}} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			res := writeSet(t, src, out, "set.tar", 150<<10)
			cut := cutInChunk(t, res, blob)
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s accepted a set with a cut volume", what)
				}
				msg := err.Error()
				for _, w := range []string{filepath.Base(cut), "volume ", blob.String(), "truncated", "needed by images example.com/shared-a:1, example.com/shared-b:1"} {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: %q does not say %q", what, msg, w)
					}
				}
				if strings.Contains(msg, "example.com/other:1") {
					t.Errorf("%s: %q names an image that does not need the blob", what, msg)
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("%s: %v is not io.ErrUnexpectedEOF", what, err)
				}
			}
			_, err := archive.Open(context.Background(), out, archive.OpenOptions{Stream: c.stream})
			check("open", err)
			if c.stream {
				return
			}
			dest := filepath.Join(t.TempDir(), "l")
			_, err = archive.Import(context.Background(), out, dest, archive.ImportOptions{})
			check("import", err)
			if _, serr := os.Stat(dest); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("a failed import left %s behind", dest)
			}
		})
	}
}

// TestCutCompressedVolumeNamesImages: an import of a compressed set,
// which streams volume by volume into the destination, names the images
// too when a volume stops short inside the shared layer.
func TestCutCompressedVolumeNamesImages(t *testing.T) {
	src, blob := sharedLayout(t)
	out := t.TempDir()
	res := writeSet(t, src, out, "set.tar.zst", 150<<10)
	fi, _ := os.Stat(res.Volumes[1])
	os.Truncate(res.Volumes[1], fi.Size()-8000) // past its head, as a full stick cuts a large volume
	dest := filepath.Join(t.TempDir(), "l")
	_, err := archive.Import(context.Background(), out, dest, archive.ImportOptions{})
	if err == nil {
		t.Fatal("import accepted a set with a cut volume")
	}
	t.Log(err)
	for _, w := range []string{filepath.Base(res.Volumes[1]), blob.String(), "needed by images example.com/shared-a:1, example.com/shared-b:1"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
	if _, serr := os.Stat(dest); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("a failed import left %s behind", dest)
	}
}
