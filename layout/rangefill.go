package layout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rangeBuf is what each range's stream reads into before writing at its
// offset: fixed, so memory does not grow with the blob.
const rangeBuf = 256 << 10

// fill is a staged file being written by several ranges at once. Each
// range advances its own mark; the hasher reads the file back, from the
// page cache, only as far as the ranges before it are complete, so the
// digest is computed in one pass in order and no byte is hashed before it
// is written.
type fill struct {
	st     *Staged
	d      ocispec.Descriptor
	bounds []int64 // range i is [bounds[i], bounds[i+1])

	mu   sync.Mutex
	cond *sync.Cond
	have []int64 // range i is written from bounds[i] up to have[i]
	err  error
}

// splitAfter, splitRate and splitWorth decide when a blob's one stream
// fans out into ranges: once it has run splitAfter (past the first round
// trips), if it brings less than splitRate and the rest would take longer
// than splitWorth at its pace. A stream that slow is held back by the
// link or a per-connection cap, not by this host's CPU (which hashes and
// writes many times faster), so the ranges' extra requests and the read
// back of what they wrote cost nothing that shows; a fast stream (on
// loopback, a LAN, a datacenter link) is left alone, as ranges would only
// add work there. Variables, so tests can make a fast loopback stream
// split.
var (
	splitAfter         = 200 * time.Millisecond
	splitRate  float64 = 48e6 // bytes per second
	splitWorth         = time.Second
)

// fillRanges writes d into st from src and verifies it. It starts as one
// stream of the whole blob, written and hashed as it arrives; if that
// stream proves slow (see splitAfter), the rest of the blob is cut into
// up to maxParts ranges: the first stream keeps the first of them and
// the others come at once, each over its own connection, written at
// their offsets and hashed, reading the file back, only as the prefix
// before them completes. One pass, in order, and nothing renamed into
// place before its digest matched. A source that answers with the whole
// blob (it ignores Range) is that one stream, whatever its pace.
//
// from is how many of the blob's first bytes st already holds (kept by
// an interrupted pull): they are read back and hashed first, and the
// stream starts after them. It returns how many of the first bytes were
// verified in order, all of them written (or, if the failure came before
// the kept ones were read back, those): on a failure that is what is
// worth keeping for the next try.
func fillRanges(ctx context.Context, st *Staged, d ocispec.Descriptor, src RangeSource, maxParts int, progress func(int64), from int64) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, whole, err := src.FetchRange(ctx, d, from, d.Size)
	if err != nil {
		return from, err // what was kept stays as good as it was
	}
	s := &splitter{ctx: ctx, st: st, d: d, src: src, maxParts: maxParts, rc: counted(rc, progress), closer: rc, whole: whole,
		kept: from, pos: from, start: from, queued: from, end: d.Size, progress: progress, began: time.Now()}
	defer s.stop()
	vr, err := NewVerifyReader(s, d)
	if err == nil {
		err = vr.Drain()
	}
	if err != nil && s.f != nil {
		s.f.fail(err)
	}
	cancel() // on an error, the ranges in flight are of no use now
	s.wg.Wait()
	for _, fn := range s.undo {
		fn()
	}
	if err != nil {
		return max(s.given, from), err
	}
	st.n = d.Size
	return d.Size, nil
}

// splitter is what the verifier reads: the first stream's bytes as they
// arrive (each written at its offset first), then, once split, the rest
// read back from the file as the ranges fill it.
type splitter struct {
	ctx      context.Context
	st       *Staged
	d        ocispec.Descriptor
	src      RangeSource
	maxParts int
	progress func(int64)
	began    time.Time

	kept   int64     // bytes the file held before, read back first
	given  int64     // bytes handed to the verifier, in order
	rc     io.Reader // the first stream
	closer io.Closer
	whole  bool
	start  int64 // where the first stream began
	pos    int64 // the first stream's next byte
	end    int64 // where the first stream stops: the blob's end until split
	queued int64 // where writeback was last started

	f    *fill // the ranges after the first, once split
	back *prefixReader
	wg   sync.WaitGroup
	undo []func() // once the ranges are done
}

func (s *splitter) Read(b []byte) (n int, err error) {
	defer func() { s.given += int64(n) }()
	switch {
	case s.given < s.kept:
		n, err = s.st.f.ReadAt(b[:min(int64(len(b)), s.kept-s.given)], s.given)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	case s.pos < s.end:
		return s.first(b)
	case s.back != nil:
		return s.back.Read(b)
	}
	return 0, io.EOF
}

// first reads the first stream, writes what came at its offset, and
// decides, once, whether the rest is worth splitting.
func (s *splitter) first(b []byte) (int, error) {
	if s.pos == s.start && s.kept > 0 {
		s.began = time.Now() // the stream's pace counts from its first read, after the kept bytes' hash
	}
	n, err := s.rc.Read(b[:min(int64(len(b)), s.end-s.pos)])
	if n > 0 {
		if _, werr := s.st.f.WriteAt(b[:n], s.pos); werr != nil {
			return 0, werr
		}
		s.pos += int64(n)
		if s.pos-s.queued >= writebackEvery {
			startWriteback(s.st.f, s.queued, s.pos-s.queued)
			s.queued = s.pos
		}
	}
	if err == io.EOF && s.pos < s.end {
		return n, fmt.Errorf("%s: %w: the blob ended after %d of %d bytes", s.d.Digest, ErrSizeMismatch, s.pos, s.d.Size)
	}
	if err != nil && err != io.EOF {
		return n, err
	}
	if s.pos == s.end && s.end < s.d.Size {
		s.stop() // cut at its range's end: the bytes after it come in others
	} else if s.f == nil && !s.whole && s.maxParts > 1 {
		if serr := s.maybeSplit(); serr != nil {
			return n, serr
		}
	}
	return n, nil
}

// maybeSplit fans the rest of the blob out into ranges if the first
// stream is slow enough for it to pay.
func (s *splitter) maybeSplit() error {
	ran := time.Since(s.began)
	if ran < splitAfter {
		return nil
	}
	rate := float64(s.pos-s.start) / ran.Seconds()
	rest := s.d.Size - s.pos
	if rate >= splitRate || float64(rest) < rate*splitWorth.Seconds() {
		return nil
	}
	// Parts of 16 MiB or more, about four per connection, fetched in
	// order: each connection takes the next part when it is done with
	// one, so parts complete about in order and the hash, which must
	// take them in order, keeps up with them instead of waiting for
	// parts that all end together (equal ranges left up to 7/8 of a
	// blob to hash after its last byte came: half a second a GiB).
	size := max(rangedPartMin, rest/int64(4*s.maxParts))
	parts := int((rest + size - 1) / size)
	if parts < 2 {
		return nil
	}
	workers := min(s.maxParts, parts-1)
	back, err := s.st.root.Open(s.st.name)
	if err != nil {
		return err
	}
	bounds := splitRanges(rest, parts)
	for i := range bounds {
		bounds[i] += s.pos
	}
	// Range 0 is the first stream's, written in line: it counts as done
	// for the read back, which starts where it ends.
	f := &fill{st: s.st, d: s.d, bounds: bounds, have: append([]int64(nil), bounds[:parts]...)}
	f.have[0] = bounds[1]
	f.cond = sync.NewCond(&f.mu)
	s.f, s.end = f, bounds[1]
	s.back = &prefixReader{f: f, back: back, pos: bounds[1], part: 1}
	ctx := s.ctx
	stopAfter := context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	s.undo = append(s.undo, func() { stopAfter(); back.Close() })
	var next atomic.Int64
	next.Store(1)
	for range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= parts || ctx.Err() != nil || f.failed() {
					return
				}
				if err := s.fetchPart(ctx, f, i); err != nil {
					f.fail(err)
					return
				}
			}
		}()
	}
	return nil
}

// fetchPart fetches part i of f and writes it at its offsets.
func (s *splitter) fetchPart(ctx context.Context, f *fill, i int) error {
	rc, whole, err := s.src.FetchRange(ctx, s.d, f.bounds[i], f.bounds[i+1])
	if err != nil {
		return err
	}
	defer rc.Close()
	if whole {
		return fmt.Errorf("%s: the registry answered a range with the whole blob, after it had answered one with a range", s.d.Digest)
	}
	return f.fetch(i, counted(rc, s.progress))
}

// stop closes the first stream, once.
func (s *splitter) stop() {
	if s.closer != nil {
		s.closer.Close()
		s.closer = nil
	}
}

// fetch writes range i from r at its offsets.
func (f *fill) fetch(i int, r io.Reader) error {
	buf := make([]byte, rangeBuf)
	pos, end := f.bounds[i], f.bounds[i+1]
	queued := pos
	for pos < end {
		n, err := r.Read(buf[:min(int64(len(buf)), end-pos)])
		if n > 0 {
			if _, werr := f.st.f.WriteAt(buf[:n], pos); werr != nil {
				return werr
			}
			pos += int64(n)
			if pos-queued >= writebackEvery || pos == end {
				// Each part starts its own writeback as it is written,
				// not when the hash reaches it: the fsync that commits
				// the blob then finds little left to write.
				startWriteback(f.st.f, queued, pos-queued)
				queued = pos
			}
			f.mu.Lock()
			f.have[i] = pos
			f.mu.Unlock()
			f.cond.Broadcast()
		}
		if err == io.EOF && pos < end {
			return fmt.Errorf("%s: %w: the range of bytes %d to %d ended after %d", f.d.Digest, ErrSizeMismatch, f.bounds[i], end, pos-f.bounds[i])
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// failed reports whether a part has failed: the others stop taking more.
func (f *fill) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err != nil
}

// fail records the first error and wakes the hasher.
func (f *fill) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	f.cond.Broadcast()
}

// prefixReader reads the file back in order, waiting at the end of the
// contiguous prefix written so far.
type prefixReader struct {
	f    *fill
	back *os.File
	pos  int64
	part int
}

func (p *prefixReader) Read(b []byte) (int, error) {
	f := p.f
	if p.pos >= f.d.Size {
		return 0, io.EOF
	}
	f.mu.Lock()
	for {
		for p.part < len(f.have)-1 && f.have[p.part] == f.bounds[p.part+1] && p.pos >= f.bounds[p.part+1] {
			p.part++
		}
		if f.have[p.part] > p.pos {
			break
		}
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return 0, err
		}
		f.cond.Wait()
	}
	ready := f.have[p.part] - p.pos
	f.mu.Unlock()
	n, err := p.back.ReadAt(b[:min(int64(len(b)), ready)], p.pos)
	p.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// counted reports the bytes read from r to progress, if set.
func counted(r io.ReadCloser, progress func(int64)) io.Reader {
	if progress == nil {
		return r
	}
	return &progressReader{r: r, fn: progress}
}
