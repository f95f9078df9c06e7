package layout

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rangeBuf is what each range's stream reads into before writing at its
// offset: fixed, so memory does not grow with the blob.
const rangeBuf = 256 << 10

// fill is a staged file being written by several ranges at once. Each
// part advances its own mark; the hasher reads the file back, from the
// page cache, only as far as the parts before it are complete, so the
// digest is computed in one pass in order and no byte is hashed before it
// is written.
type fill struct {
	st *Staged
	d  ocispec.Descriptor

	mu      sync.Mutex
	cond    *sync.Cond
	parts   []*part // in the blob's order; parts[0] is the first stream's
	queue   []*part // parts no connection has taken yet, in order
	running int     // connections fetching parts
	fanned  bool    // parts were cut between the first stream's and the probe's
	err     error
	// probeErr is the probe's failure before any fan-out: the first
	// stream, whose request runs to the blob's end, then takes the
	// probe's bytes itself if it is still running (first); once it has
	// stopped, it is the blob's failure (prefixReader).
	probeErr error
}

// part is the range [start, end) of a blob, written from start up to
// have (guarded by fill.mu).
type part struct {
	start, end, have int64
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
//
// probeWindow and probeGain tell the two kinds of slow link apart: the
// split starts with one more connection only (the probe), and more follow
// only if the two together bring probeGain times what the first did
// alone over probeWindow. Where each connection is capped they bring
// about twice (2.0 to 2.1 measured); on one shared line they bring the
// same, though the first stream's pace, taken from its start, reads low
// (1.2 to 1.4 measured on loopback, 1.5 once under CI's load), and the blob
// stays on two streams: more would only divide the line among them and
// leave the hash, which must take the parts in order, a backlog to read
// back after the last byte (0.2 s a GiB).
var (
	splitAfter          = 200 * time.Millisecond
	splitRate   float64 = 48e6 // bytes per second
	splitWorth          = time.Second
	probeWindow         = 300 * time.Millisecond
	probeGain           = 1.75
)

// fillRanges writes d into st from src and verifies it. It starts as one
// stream of the whole blob, written and hashed as it arrives; if that
// stream proves slow (see splitAfter), one more connection (the probe)
// takes the blob's last bytes, and, if that raised the rate (see
// probeWindow), the rest is cut into parts for up to maxParts more
// connections, taken in order: the first stream keeps the first of them
// (and, until it is done, is one connection beyond maxParts),
// and each part is written at its offsets and hashed, reading the file
// back, only as the prefix before it completes. One pass, in order, and
// nothing renamed into place before its digest matched. A source that
// answers with the whole blob (it ignores Range) is that one stream,
// whatever its pace.
//
// from is how many of the blob's first bytes st already holds (kept by
// an interrupted pull): they are read back and hashed first, and the
// stream starts after them. It returns how many of the first bytes were
// verified in order, all of them written (or, if the failure came before
// the kept ones were read back, those): on a failure that is what is
// worth keeping for the next try.
//
// mark, if set, is told the verified prefix as it grows, so a kill
// leaves it known (layout/mark.go).
func fillRanges(ctx context.Context, st *Staged, d ocispec.Descriptor, src RangeSource, maxParts int, progress func(int64), from int64, mark *prefixMark) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, whole, err := src.FetchRange(ctx, d, from, d.Size)
	if err != nil {
		return from, err // what was kept stays as good as it was
	}
	s := &splitter{ctx: ctx, st: st, d: d, src: src, maxParts: maxParts, rc: counted(rc, progress), closer: rc, whole: whole,
		kept: from, pos: from, start: from, queued: from, end: d.Size, progress: progress, began: time.Now(), mark: mark}
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
// read back from the file as the parts fill it.
type splitter struct {
	ctx      context.Context
	st       *Staged
	d        ocispec.Descriptor
	src      RangeSource
	maxParts int
	progress func(int64)
	began    time.Time

	mark   *prefixMark
	kept   int64     // bytes the file held before, read back first
	given  int64     // bytes handed to the verifier, in order
	rc     io.Reader // the first stream
	closer io.Closer
	whole  bool
	start  int64 // where the first stream began
	pos    int64 // the first stream's next byte
	end    int64 // where the first stream stops: the blob's end until split
	queued int64 // where writeback was last started

	f    *fill // the parts after the first, once split
	back *prefixReader
	wg   sync.WaitGroup
	undo []func() // once the parts are done

	// The probe: the one more connection a split starts with.
	probe   *part
	alone   float64   // the first stream's rate before it
	winAt   time.Time // when the probe's first bytes were seen; zero before
	winFrom int64     // the first stream's and the probe's bytes then
	decided bool      // fanned out, or found not worth it
}

func (s *splitter) Read(b []byte) (n int, err error) {
	defer func() {
		s.given += int64(n)
		s.mark.at(s.given)
	}()
	switch {
	case s.given < s.kept:
		if err := s.ctx.Err(); err != nil {
			return 0, err // a Ctrl-C while the kept bytes are hashed again
		}
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
// decides whether the rest is worth splitting, then whether to fan out.
func (s *splitter) first(b []byte) (int, error) {
	if s.pos == s.start && s.kept > 0 {
		s.began = time.Now() // the stream's pace counts from its first read, after the kept bytes' hash
	}
	if s.f != nil {
		if err := s.checkParts(); err != nil {
			return 0, err
		}
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
	switch {
	case s.pos == s.end && s.end < s.d.Size:
		s.stop() // cut at its part's end: the bytes after it come in others
	case s.f == nil && !s.whole && s.maxParts > 1:
		if serr := s.maybeSplit(); serr != nil {
			return n, serr
		}
	case s.f != nil && !s.decided:
		s.maybeFanOut()
	}
	return n, nil
}

// maybeSplit starts the probe if the first stream is slow enough for
// more connections to pay: one more connection takes the blob's last
// bytes, where, if no more follow, the hash finds them written by the
// time the first stream gets there, and the first stream stops before
// them.
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
	// A second's worth at the first stream's pace, so the probe still
	// brings bytes when the window closes; at most a quarter of the rest.
	size := min(rangedPartMin, max(rangedTailMin, int64(rate)), rest/4)
	back, err := s.st.root.Open(s.st.name)
	if err != nil {
		return err
	}
	// Part 0 is the first stream's, written in line: it counts as done
	// for the read back, which starts where it ends.
	first := &part{start: s.pos, end: s.d.Size - size, have: s.d.Size - size}
	s.probe = &part{start: first.end, end: s.d.Size, have: first.end}
	f := &fill{st: s.st, d: s.d, parts: []*part{first, s.probe}, queue: []*part{s.probe}}
	f.cond = sync.NewCond(&f.mu)
	s.f, s.end, s.alone = f, first.end, rate
	s.back = &prefixReader{f: f, back: back, pos: first.end, part: 1}
	ctx := s.ctx
	stopAfter := context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	s.undo = append(s.undo, func() { stopAfter(); back.Close() })
	s.connect(1)
	return nil
}

// checkParts returns a part's failure, which ends the blob at once, not
// when the first stream reaches it; a probe that failed before any
// fan-out instead gives its bytes back to the first stream, which goes on
// to the blob's end alone (a registry or CDN that refuses a second
// connection, or answers it badly, must not fail a stream that works).
func (s *splitter) checkParts() error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.probeErr != nil && !f.fanned && s.end < s.d.Size {
		first := f.parts[0]
		first.end, first.have = s.d.Size, s.d.Size
		f.parts, f.queue = f.parts[:1], nil
		s.end, s.decided, s.back = s.d.Size, true, nil // nothing to read back now
	}
	return nil
}

// maybeFanOut, once the probe has brought bytes for probeWindow, cuts
// what is left of the first stream's part into parts for up to maxParts
// connections if the probe raised the rate (connections capped one by
// one), and leaves the two streams as they are if it did not (one line
// shared by all).
func (s *splitter) maybeFanOut() {
	f := s.f
	f.mu.Lock()
	probed := s.probe.have - s.probe.start
	f.mu.Unlock()
	now := time.Now()
	if s.winAt.IsZero() {
		if probed > 0 {
			s.winAt, s.winFrom = now, s.pos+probed
		}
		return
	}
	ran := now.Sub(s.winAt)
	if ran < probeWindow && s.probe.start+probed < s.probe.end {
		return
	}
	s.decided = true
	if float64(s.pos+probed-s.winFrom)/ran.Seconds() < probeGain*s.alone {
		return // a shared line: more connections would only divide it
	}
	rest := s.end - s.pos
	// Parts of 16 MiB or more, about four per connection, fetched in
	// order: each connection takes the next part when it is done with
	// one, so parts complete about in order and the hash, which must
	// take them in order, keeps up with them instead of waiting for
	// parts that all end together (equal ranges left up to 7/8 of a
	// blob to hash after its last byte came: half a second a GiB).
	b := partBounds(rest, max(rangedPartMin, rest/int64(4*s.maxParts)), s.maxParts)
	if len(b) < 3 {
		return
	}
	more := make([]*part, 0, len(b)-2)
	for i := 1; i < len(b)-1; i++ {
		more = append(more, &part{start: s.pos + b[i], end: s.pos + b[i+1], have: s.pos + b[i]})
	}
	f.mu.Lock()
	if f.probeErr != nil {
		f.mu.Unlock()
		return // the probe failed: the first stream takes its bytes (checkParts)
	}
	f.fanned = true
	first := f.parts[0]
	first.end, first.have = s.pos+b[1], s.pos+b[1]
	f.parts = append(append([]*part{first}, more...), f.parts[1:]...)
	f.queue = append(more, f.queue...)
	n := min(s.maxParts, len(f.queue)+f.running) - f.running
	f.mu.Unlock()
	s.end = first.end
	s.back.pos = first.end
	s.connect(n)
}

// connect starts n more connections, each taking the next part of the
// queue until none is left.
func (s *splitter) connect(n int) {
	f, ctx := s.f, s.ctx
	for range n {
		f.mu.Lock()
		f.running++
		f.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
			for {
				p := f.take()
				if p == nil || ctx.Err() != nil {
					return
				}
				if err := s.fetchPart(ctx, f, p); err != nil {
					f.partFailed(p == s.probe && ctx.Err() == nil, err)
					return
				}
			}
		}()
	}
}

// take hands out the next part nobody fetches yet, or nil: none is left,
// or a part failed.
func (f *fill) take() *part {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || len(f.queue) == 0 {
		return nil
	}
	p := f.queue[0]
	f.queue = f.queue[1:]
	return p
}

// fetchPart fetches part p of f and writes it at its offsets.
func (s *splitter) fetchPart(ctx context.Context, f *fill, p *part) error {
	var rc io.ReadCloser
	var err error
	if ps, ok := s.src.(PartSource); ok {
		rc, err = ps.FetchPart(ctx, s.d, p.start, p.end)
	} else {
		var whole bool
		if rc, whole, err = s.src.FetchRange(ctx, s.d, p.start, p.end); err == nil && whole {
			rc.Close()
			err = fmt.Errorf("%s: the registry answered a range with the whole blob, after it had answered one with a range", s.d.Digest)
		}
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return f.fetch(p, counted(rc, s.progress))
}

// stop closes the first stream, once.
func (s *splitter) stop() {
	if s.closer != nil {
		s.closer.Close()
		s.closer = nil
	}
}

// fetch writes part p from r at its offsets.
func (f *fill) fetch(p *part, r io.Reader) error {
	buf := make([]byte, rangeBuf)
	pos, end := p.start, p.end
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
			p.have = pos
			f.mu.Unlock()
			f.cond.Broadcast()
		}
		if err == io.EOF && pos < end {
			return fmt.Errorf("%s: %w: the range of bytes %d to %d ended after %d", f.d.Digest, ErrSizeMismatch, p.start, end, pos-p.start)
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// partFailed records a part's failure: the blob's, or, for the probe
// before any fan-out, the probe's alone (see probeErr).
func (f *fill) partFailed(probe bool, err error) {
	f.mu.Lock()
	if probe && !f.fanned && f.err == nil {
		f.probeErr = err
		f.mu.Unlock()
		f.cond.Broadcast()
		return
	}
	f.mu.Unlock()
	f.fail(err)
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
	part int // the part pos is in
}

func (p *prefixReader) Read(b []byte) (int, error) {
	f := p.f
	if p.pos >= f.d.Size {
		return 0, io.EOF
	}
	f.mu.Lock()
	for {
		for p.part < len(f.parts)-1 && p.pos >= f.parts[p.part].end {
			p.part++
		}
		if f.parts[p.part].have > p.pos {
			break
		}
		if err := cmp.Or(f.err, f.probeErr); err != nil {
			f.mu.Unlock()
			return 0, err
		}
		f.cond.Wait()
	}
	ready := f.parts[p.part].have - p.pos
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
