package archive

import (
	"context"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestSplitBlobHashedOnceAndAHalf: importing a set read in place, a blob
// split across volumes is hashed by its verifier once, and of its chunks
// only those after the first again: the first is a prefix of the blob,
// whose digest the verifier's running hash gives. Every chunk is still
// checked (the corrupt-chunk cases of TestVolumeSetBadInput name chunk 1's
// volume). It fails if layout.Copy stops telling the file its verifier.
func TestSplitBlobHashedOnceAndAHalf(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := make([]byte, 300<<10)
	rand.New(rand.NewSource(7)).Read(b)
	testimage.Layout(t, dir, testimage.Named{Name: "example.com/big:1", Content: string(b)})
	src, err := Open(ctx, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := t.TempDir()
	if _, err := Write(ctx, src, src.Images, filepath.Join(out, "set.tar"), WriteOptions{VolumeSize: 96 << 10}); err != nil {
		t.Fatal(err)
	}

	vols, err := findVolumes(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	sfs, closers, err := openSetInPlace(ctx, vols, "set")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	var split *entry
	for e, cs := range sfs.chunks {
		if len(cs) >= 3 {
			split = e
		}
	}
	if split == nil {
		t.Fatal("no blob is cut in three or more chunks")
	}
	chunks := sfs.chunks[split]
	desc := ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.TrimPrefix(split.name, "blobs/sha256/")), Size: split.size}
	dst, err := layout.CreateDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := layout.Copy(ctx, layout.NewFS(sfs, "set"), dst, &layout.Graph{Blobs: []ocispec.Descriptor{desc}}, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := sfs.hashed.Load(), split.size-chunks[0].size; got != want {
		t.Errorf("the set's files hashed %d bytes of the %d-byte blob (%d chunks), want %d: all but the first chunk", got, split.size, len(chunks), want)
	}
	if ok, err := dst.Exists(ctx, desc); !ok || err != nil {
		t.Errorf("the blob did not arrive: %v %v", ok, err)
	}
}
