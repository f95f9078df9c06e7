package layout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

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

// fillRanges writes d into st from src in parts ranges at once and
// verifies it. A source that answers the first range with the whole
// blob gets no other request: its one stream is hashed as it arrives.
func fillRanges(ctx context.Context, st *Staged, d ocispec.Descriptor, src RangeSource, parts int, progress func(int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bounds := splitRanges(d.Size, parts)
	first, whole, err := src.FetchRange(ctx, d, 0, bounds[1])
	if err != nil {
		return err
	}
	if whole {
		defer first.Close()
		vr, err := NewVerifyReader(counted(first, progress), d)
		if err != nil {
			return err
		}
		_, err = st.CopyFrom(ctx, vr)
		return err
	}
	back, err := st.root.Open(st.name)
	if err != nil {
		first.Close()
		return err
	}
	defer back.Close()
	f := &fill{st: st, d: d, bounds: bounds, have: append([]int64(nil), bounds[:parts]...)}
	f.cond = sync.NewCond(&f.mu)
	stop := context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	defer stop()
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := first
			if i > 0 {
				var err error
				if rc, _, err = src.FetchRange(ctx, d, bounds[i], bounds[i+1]); err != nil {
					f.fail(err)
					return
				}
			}
			defer rc.Close()
			if err := f.fetch(i, counted(rc, progress)); err != nil {
				f.fail(err)
			}
		}()
	}
	vr, err := NewVerifyReader(&prefixReader{f: f, back: back}, d)
	if err == nil {
		err = vr.Drain()
	}
	if err != nil {
		f.fail(err)
		cancel() // the other ranges are of no use now
	}
	wg.Wait()
	if err != nil {
		return err
	}
	st.n = d.Size
	return nil
}

// fetch writes range i from r at its offsets.
func (f *fill) fetch(i int, r io.Reader) error {
	buf := make([]byte, rangeBuf)
	pos, end := f.bounds[i], f.bounds[i+1]
	for pos < end {
		n, err := r.Read(buf[:min(int64(len(buf)), end-pos)])
		if n > 0 {
			if _, werr := f.st.f.WriteAt(buf[:n], pos); werr != nil {
				return werr
			}
			pos += int64(n)
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
	f      *fill
	back   *os.File
	pos    int64
	part   int
	queued int64 // where writeback was last started
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
	if p.pos-p.queued >= writebackEvery {
		// As Writeback does for a file written in order: the fsync that
		// commits the blob then finds little left to write.
		startWriteback(f.st.f, p.queued, p.pos-p.queued)
		p.queued = p.pos
	}
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
