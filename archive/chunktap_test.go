package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
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
	tap := newChunkTap(io.NopCloser(&oddReader{b: src, rng: rand.New(rand.NewPCG(3, 4))}), ends)
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
