package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// oddReader hands out its bytes in reads of random lengths, so chunk ends
// fall inside reads and at their edges.
type oddReader struct {
	b   []byte
	rng *rand.Rand
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+r.rng.IntN(7000))], r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestChunkTap: each chunk's digest is that of its bytes, whatever the
// reads' lengths, ready once its last byte was read; bytes past the last
// chunk (a source longer than its blob) are passed on, not hashed, and
// do not crash it: the blob's verifier reports them.
func TestChunkTap(t *testing.T) {
	blob := make([]byte, 50_000)
	rand.NewChaCha8([32]byte{1}).Read(blob)
	ends := []int64{512, 20_480, 20_992, 50_000}
	src := append(append([]byte(nil), blob...), "extra"...)
	tap := newChunkTap(io.NopCloser(&oddReader{b: src, rng: rand.New(rand.NewPCG(3, 4))}), 0, ends)
	got, err := io.ReadAll(tap)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("read %d bytes, %v; want the source's %d", len(got), err, len(src))
	}
	var from int64
	for i, end := range ends {
		d, ok := tap.sum(i)
		if want := digest.FromBytes(blob[from:end]); !ok || d != want {
			t.Errorf("chunk %d: %s %v, want %s", i, d, ok, want)
		}
		from = end
	}
	if _, ok := tap.sum(len(ends)); ok {
		t.Error("a digest past the last chunk")
	}
}

// A tap from the first chunk's end passes that chunk on unhashed and
// hashes the rest chunk by chunk; the first chunk's digest is the blob's
// running hash at its end (VerifyReader.SoFar), the same bytes' digest.
func TestChunkTapAfterFirst(t *testing.T) {
	blob := make([]byte, 50_000)
	rand.NewChaCha8([32]byte{2}).Read(blob)
	ends := []int64{20_001, 20_480, 50_000}
	tap := newChunkTap(io.NopCloser(&oddReader{b: blob, rng: rand.New(rand.NewPCG(5, 6))}), ends[0], ends[1:])
	vr, err := layout.NewVerifyReader(tap, ocispec.Descriptor{Digest: digest.FromBytes(blob), Size: int64(len(blob))})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, ends[0])
	if _, err := io.ReadFull(vr, first); err != nil {
		t.Fatal(err)
	}
	if d, n := vr.SoFar(); n != ends[0] || d != digest.FromBytes(blob[:ends[0]]) {
		t.Errorf("after the first chunk: %s over %d bytes, want %s over %d", d, n, digest.FromBytes(blob[:ends[0]]), ends[0])
	}
	if err := vr.Drain(); err != nil {
		t.Fatalf("the blob as a whole: %v", err)
	}
	from := ends[0]
	for i, end := range ends[1:] {
		d, ok := tap.sum(i)
		if want := digest.FromBytes(blob[from:end]); !ok || d != want {
			t.Errorf("chunk %d: %s %v, want %s", i+2, d, ok, want)
		}
		from = end
	}
	if _, ok := tap.sum(len(ends) - 1); ok {
		t.Error("a digest past the last chunk")
	}
}
