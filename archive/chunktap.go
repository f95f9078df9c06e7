package archive

import (
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// chunkTap hashes chunks of a split blob as their bytes are read, for
// the read-ahead goroutine to do, the lightest of the three a copy runs
// (read, the blob's hash, the write). The chunk's digest is recorded
// before the bytes are handed on, so whoever has read a chunk's last
// byte through the read-ahead finds its digest ready. The bytes before
// from are passed on unhashed: the first chunk is a prefix of the blob,
// whose digest the blob's own running hash gives (VerifyReader.SoFar).
type chunkTap struct {
	r    io.ReadCloser
	from int64   // where the first chunk tapped starts
	ends []int64 // each tapped chunk's end in the blob, in order
	pos  int64
	h    digest.Digester

	mu   sync.Mutex
	sums []digest.Digest
}

// chunkAlg is the algorithm of every chunk's digest in a volume's index,
// whatever the blob's own (docs/FORMAT.md).
const chunkAlg = digest.SHA256

func newChunkTap(r io.ReadCloser, from int64, ends []int64) *chunkTap {
	return &chunkTap{r: r, from: from, ends: ends, h: chunkAlg.Digester()}
}

func (t *chunkTap) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	p := b[:n]
	if skip := min(int64(len(p)), t.from-t.pos); skip > 0 {
		p, t.pos = p[skip:], t.pos+skip
	}
	for len(p) > 0 {
		t.mu.Lock()
		i := len(t.sums)
		t.mu.Unlock()
		if i == len(t.ends) {
			break // past the blob's size: its verifier says so
		}
		k := int(min(int64(len(p)), t.ends[i]-t.pos))
		t.h.Hash().Write(p[:k])
		t.pos += int64(k)
		p = p[k:]
		if t.pos == t.ends[i] {
			t.mu.Lock()
			t.sums = append(t.sums, t.h.Digest())
			t.mu.Unlock()
			t.h = chunkAlg.Digester()
		}
	}
	return n, err
}

func (t *chunkTap) Close() error { return t.r.Close() }

// sum is tapped chunk i's digest (0-based), once all its bytes were read.
func (t *chunkTap) sum(i int) (digest.Digest, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i >= len(t.sums) {
		return "", false
	}
	return t.sums[i], true
}
