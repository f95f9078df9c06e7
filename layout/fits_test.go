package layout

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/fattest"
)

// TestFitsOnFAT: a layout on a real FAT32 mount refuses, before a byte,
// a blob over FAT's largest file (its descriptor says so; nothing that
// large is written), with the archive-in-volumes way out; a layout
// elsewhere takes it. With a small limit through the test seam, real
// blobs show that only missing blobs are judged and that a blob of
// exactly the limit passes.
func TestFitsOnFAT(t *testing.T) {
	ctx := context.Background()
	mnt := fattest.Mount(t, fattest.Options{SizeMiB: 64, SectorsPerCluster: 8})
	d, err := CreateDir(ctx, filepath.Join(mnt, "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	huge := ocispec.Descriptor{Digest: digest.FromString("huge"), Size: FATMaxFile + 1}
	err = d.CheckRoomFor(ctx, []ocispec.Descriptor{huge})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a blob of 4 GiB on FAT32: %v", err)
	}
	for _, w := range []string{huge.Digest.String(), "4294967296 bytes", "FAT (fuse.fusefat)", "--volume-size fat32", "write an archive"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
	if err := d.Begin().CheckRoomFor(ctx, []ocispec.Descriptor{huge}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a transaction's check: %v", err)
	}
	if err := d.CheckFits(ocispec.Descriptor{Digest: huge.Digest, Size: FATMaxFile}); err != nil {
		t.Fatalf("a blob of 4 GiB − 1 on FAT32: %v", err)
	}
	other, err := CreateDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.CheckFits(huge); err != nil {
		t.Fatalf("a blob of 4 GiB elsewhere: %v", err)
	}

	small, err := CreateDir(ctx, filepath.Join(mnt, "small"))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	small.fits.detect = func(dir string) (FileSystem, int64) { return DetectFS(dir), 1000 }
	txn := small.Begin()
	over, err := txn.Ingest(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 1001)), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	at := ocispec.Descriptor{Digest: digest.FromBytes(bytes.Repeat([]byte("y"), 1000)), Size: 1000}
	beyond := ocispec.Descriptor{Digest: digest.FromBytes(bytes.Repeat([]byte("z"), 1001)), Size: 1001}
	if err := small.CheckRoomFor(ctx, []ocispec.Descriptor{over, at}); err != nil {
		t.Fatalf("a blob over the limit that is there already, and one at the limit: %v", err)
	}
	err = small.Begin().CheckRoomFor(ctx, []ocispec.Descriptor{over, at, beyond})
	var nf *NoFitError
	if !errors.As(err, &nf) || nf.Desc.Digest != beyond.Digest {
		t.Fatalf("a missing blob one byte over the limit: %v", err)
	}
}
