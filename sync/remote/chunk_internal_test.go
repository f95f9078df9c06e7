package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
)

// TestChunkedUpload: a blob larger than the chunk size goes up in PATCHes
// with Content-Range, its last chunk in the closing PUT, and comes back
// intact.
func TestChunkedUpload(t *testing.T) {
	reg := regtest.Start(t)
	blob, _ := io.ReadAll(io.LimitReader(rand.NewChaCha8([32]byte{7}), 3<<20+12345))
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	c := &Client{ChunkSize: 1 << 20}
	ref, _ := layout.ParseRef(reg.Host + "/chunks/blob:x")
	repo := c.Repository(ref, true)
	vr, _ := layout.NewVerifyReader(bytes.NewReader(blob), d)
	if err := repo.Push(context.Background(), d, vr); err != nil {
		t.Fatal(err)
	}
	got, err := layout.ReadAll(context.Background(), repo, d, 8<<20)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("read back: %v", err)
	}
	log, _ := os.ReadFile(reg.Log)
	patches, puts := 0, 0
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"PATCH /v2/chunks/blob/blobs/uploads/`) {
			patches++
		}
		if strings.Contains(l, `"PUT /v2/chunks/blob/blobs/uploads/`) {
			puts++
		}
	}
	// Read in line, the last chunk rides the closing PUT (its tail held
	// until the digest matched): one round trip less than a PATCH and a
	// bodiless PUT.
	if patches != 3 || puts != 1 {
		t.Fatalf("want 3 PATCH chunks of 1 MiB and a closing PUT with the rest, saw %d and %d", patches, puts)
	}
}

// TestClosedBlobReaderDoesNotReopen: once closed (a read-ahead's owner
// gave up), a blob reader that was about to resume opens nothing and
// leaves no response body behind.
func TestClosedBlobReaderDoesNotReopen(t *testing.T) {
	reg := regtest.Start(t)
	blob := []byte("resumable")
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	ref, _ := layout.ParseRef(reg.Host + "/closed/blob:x")
	repo := (&Client{}).Repository(ref, true)
	if err := repo.Push(context.Background(), d, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	rc, err := repo.fetchBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	br := rc.(*blobReader)
	br.Close()
	if err := br.open(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("open after Close: %v", err)
	}
	if _, err := br.Read(make([]byte, 4)); err == nil {
		t.Fatal("read after Close succeeded")
	}
}
