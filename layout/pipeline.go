package layout

import (
	"io"
	"sync"
)

// A stream through ferry does three things: read (a socket or file), hash
// (VerifyReader), write (a file or tar). One goroutine doing all three uses
// one core; when a single stream is all there is, as when an archive is
// written blob after blob, the stages run on their own goroutines instead,
// with a few pooled buffers between them, so memory stays bounded by depth
// no matter how large the blob.

// chunk is one filled pooled buffer, or the error that ended the stream.
type chunk struct {
	bp  *[]byte
	n   int
	err error
}

// ReadAhead reads rc on its own goroutine, at most depth buffers ahead of
// the consumer. Close stops the goroutine and closes rc.
type ReadAhead struct {
	rc   io.ReadCloser
	ch   chan chunk
	done chan struct{}
	wg   sync.WaitGroup
	cur  chunk
	off  int
	once sync.Once
}

// NewReadAhead starts reading rc ahead.
func NewReadAhead(rc io.ReadCloser, depth int) *ReadAhead {
	r := &ReadAhead{rc: rc, ch: make(chan chunk, depth), done: make(chan struct{})}
	r.wg.Add(1)
	go r.fill()
	return r
}

func (r *ReadAhead) fill() {
	defer r.wg.Done()
	defer close(r.ch)
	for {
		bp := bufPool.Get().(*[]byte)
		n, err := io.ReadFull(r.rc, *bp)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case r.ch <- chunk{bp, n, err}:
		case <-r.done:
			bufPool.Put(bp)
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (r *ReadAhead) Read(p []byte) (int, error) {
	for r.cur.bp == nil || r.off == r.cur.n {
		if r.cur.bp != nil {
			if r.cur.err != nil {
				return 0, r.cur.err
			}
			bufPool.Put(r.cur.bp)
			r.cur = chunk{}
		}
		c, ok := <-r.ch
		if !ok {
			return 0, io.ErrClosedPipe
		}
		r.cur, r.off = c, 0
		if c.n == 0 && c.err != nil {
			return 0, c.err
		}
	}
	n := copy(p, (*r.cur.bp)[r.off:r.cur.n])
	r.off += n
	return n, nil
}

// Close stops reading ahead, closes the source and returns the buffers.
func (r *ReadAhead) Close() error {
	var err error
	r.once.Do(func() {
		close(r.done)
		err = r.rc.Close() // unblocks a Read in progress
		r.wg.Wait()
		for c := range r.ch {
			bufPool.Put(c.bp)
		}
		if r.cur.bp != nil {
			bufPool.Put(r.cur.bp)
			r.cur = chunk{}
		}
	})
	return err
}

// CopyBehind copies src to dst like CopyBuffer, but dst is written on its
// own goroutine, up to depth buffers behind the reads. It returns once
// everything read has been written, with the first error of either side.
func CopyBehind(dst io.Writer, src io.Reader, depth int) (int64, error) {
	ch := make(chan chunk, depth)
	werr := make(chan error, 1)
	stop := make(chan struct{}) // closed when a write fails: stop reading
	var written int64
	go func() {
		var err error
		for c := range ch {
			if err == nil {
				var n int
				n, err = dst.Write((*c.bp)[:c.n])
				written += int64(n)
				if err == nil && n != c.n {
					err = io.ErrShortWrite
				}
				if err != nil {
					close(stop)
				}
			}
			bufPool.Put(c.bp)
		}
		werr <- err
	}()
	var rerr error
	for {
		if isClosed(stop) {
			break
		}
		bp := bufPool.Get().(*[]byte)
		n, err := io.ReadFull(src, *bp)
		if n > 0 {
			ch <- chunk{bp: bp, n: n}
		} else {
			bufPool.Put(bp)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(ch)
	err := <-werr
	if err != nil {
		return written, err
	}
	return written, rerr
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
