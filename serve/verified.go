package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// copyBufSize is the one buffer each response streams through: memory
// per client is this, whatever the blob's size says.
const copyBufSize = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// errCorrupt marks stored content that failed its check while being sent.
type errCorrupt struct{ err error }

func (e errCorrupt) Error() string { return e.err.Error() }
func (e errCorrupt) Unwrap() error { return e.err }

// sendVerified streams exactly d.Size bytes of r to w, hashing as it goes,
// and holds back the buffer that completes the blob until the digest
// matches: a client never receives the last byte of wrong content, so it
// sees a body cut short (an unexpected EOF against Content-Length), not a
// complete wrong one. The headers go out with the first buffer, so a
// blob that fits in one buffer and fails gets a proper error response
// instead. start is called just before the headers are written; it
// reports whether anything was written (after which the caller must
// abort the response rather than answer with an error).
func sendVerified(w io.Writer, r io.Reader, d ocispec.Descriptor, start func()) (wrote bool, err error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return false, err
	}
	h := d.Digest.Algorithm().Hash()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for remaining := d.Size; ; {
		want := int64(len(buf))
		if remaining < want {
			want = remaining
		}
		n, rerr := io.ReadFull(r, buf[:want])
		h.Write(buf[:n])
		remaining -= int64(n)
		if rerr != nil && rerr != io.EOF || int64(n) < want {
			if rerr == nil || rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return wrote, errCorrupt{fmt.Errorf("blob %s: read %d of %d bytes: %w", d.Digest, d.Size-remaining, d.Size, rerr)}
		}
		if remaining == 0 {
			if got := digest.NewDigest(d.Digest.Algorithm(), h); got != d.Digest {
				return wrote, errCorrupt{fmt.Errorf("blob %s: %w", d.Digest, &layout.MismatchError{Want: d.Digest, Got: got})}
			}
		}
		if !wrote {
			start()
			wrote = true
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return true, err // the client went away
			}
		}
		if remaining == 0 {
			return true, nil
		}
	}
}

// verifiedSet remembers, up to a bound, the blobs whose every byte this
// server has hashed and found right. A Range request is served from it:
// a part of a blob cannot be checked on its own, so a blob not yet in the
// set is read and hashed whole once before any range of it is sent. The
// bound keeps memory fixed however many blobs are asked for; a blob that
// falls out is simply hashed again.
type verifiedSet struct {
	mu     sync.Mutex
	max    int
	set    map[digest.Digest]struct{}
	ring   []digest.Digest
	next   int
	flight map[digest.Digest]*flight
}

// flight is one whole-blob check others wait on, so a hundred clients
// resuming the same layer hash it once.
type flight struct {
	done chan struct{}
	err  error
}

// maxVerified bounds the set: 16384 digests, about 2 MiB.
const maxVerified = 1 << 14

func newVerifiedSet(max int) *verifiedSet {
	return &verifiedSet{max: max, set: map[digest.Digest]struct{}{}, flight: map[digest.Digest]*flight{}}
}

func (s *verifiedSet) has(d digest.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[d]
	return ok
}

func (s *verifiedSet) add(d digest.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(d)
}

func (s *verifiedSet) addLocked(d digest.Digest) {
	if _, ok := s.set[d]; ok {
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, d)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = d
		s.next = (s.next + 1) % s.max
	}
	s.set[d] = struct{}{}
}

// check hashes the whole of d once (or waits for the check already
// running) and remembers it if it is right.
func (s *verifiedSet) check(ctx context.Context, src layout.ReadOnly, d ocispec.Descriptor) error {
	s.mu.Lock()
	if _, ok := s.set[d.Digest]; ok {
		s.mu.Unlock()
		return nil
	}
	if f, ok := s.flight[d.Digest]; ok {
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	s.flight[d.Digest] = f
	s.mu.Unlock()

	// The check is not tied to the one request that started it: others
	// wait on it, and a client hanging up must not fail them.
	f.err = hashWhole(context.WithoutCancel(ctx), src, d)
	s.mu.Lock()
	delete(s.flight, d.Digest)
	if f.err == nil {
		s.addLocked(d.Digest)
	}
	s.mu.Unlock()
	close(f.done)
	return f.err
}

func hashWhole(ctx context.Context, src layout.ReadOnly, d ocispec.Descriptor) error {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = sendVerified(io.Discard, rc, d, func() {})
	return err
}

// byteRange is one satisfiable range of a blob, both ends included.
type byteRange struct{ start, end int64 }

// parseRange reads a Range header against a blob of size bytes. It
// answers partial=false for no header and for forms it does not serve
// (several ranges, other units, bad syntax), which RFC 9110 lets a server
// ignore by sending the whole blob; ok=false only for a well-formed range
// that lies outside the blob (416).
func parseRange(h string, size int64) (r byteRange, partial, ok bool) {
	spec, found := cutPrefixFold(h, "bytes=")
	if h == "" || !found {
		return r, false, true
	}
	first, last, dash := cutByte(spec, '-')
	if !dash {
		return r, false, true
	}
	for _, c := range spec {
		if c == ',' || c == ' ' {
			return r, false, true
		}
	}
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return r, false, true
		}
		if n == 0 || size == 0 {
			return r, false, false
		}
		if n > size {
			n = size
		}
		return byteRange{size - n, size - 1}, true, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return r, false, true
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return r, false, true
		}
		if e < end {
			end = e
		}
	}
	if start >= size {
		return r, false, false
	}
	return byteRange{start, end}, true, true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) {
		return s, false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return s, false
		}
	}
	return s[len(prefix):], true
}

func cutByte(s string, b byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// skipTo moves r to off: by seeking where the store allows it (a file, a
// tar entry, a volume's chunks), else by reading.
func skipTo(r io.Reader, off int64) error {
	if off == 0 {
		return nil
	}
	if sk, ok := r.(io.Seeker); ok {
		_, err := sk.Seek(off, io.SeekStart)
		return err
	}
	n, err := io.CopyN(io.Discard, r, off)
	if err == io.EOF || err == nil && n < off {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// abort cuts the response so the client cannot take what it got for a
// whole body.
func abort() { panic(http.ErrAbortHandler) }

// copyN copies n bytes of src to dst through buf.
func copyN(dst io.Writer, src io.Reader, n int64, buf []byte) (int64, error) {
	c, err := io.CopyBuffer(dst, io.LimitReader(src, n), buf)
	if err == nil && c < n {
		err = io.ErrUnexpectedEOF
	}
	return c, err
}
