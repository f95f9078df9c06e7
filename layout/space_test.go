package layout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := layout.CheckSpace(dir, 1); err != nil {
		t.Fatalf("one byte must fit: %v", err)
	}
	if err := layout.CheckSpace(dir, 1<<62); !errors.Is(err, layout.ErrNoSpace) {
		t.Fatalf("4 EiB must not fit: %v", err)
	}
}

// TestCheckRoomFor counts only the blobs the layout lacks.
func TestCheckRoomFor(t *testing.T) {
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	huge := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("huge"), Size: 1 << 62}
	if err := d.CheckRoomFor(context.Background(), []ocispec.Descriptor{huge}); !errors.Is(err, layout.ErrNoSpace) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a missing 4 EiB blob: %v", err)
	}
	small := []byte("present")
	have := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(small), Size: int64(len(small))}
	if err := d.Push(context.Background(), have, bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	// Only the absent blob counts: the need is exactly its size.
	err = d.CheckRoomFor(context.Background(), []ocispec.Descriptor{have, huge})
	if want := fmt.Sprintf("needs %d bytes", huge.Size); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want %q, got %v", want, err)
	}
	if err := d.CheckRoomFor(context.Background(), []ocispec.Descriptor{have}); err != nil {
		t.Fatalf("a blob already there: %v", err)
	}
}
