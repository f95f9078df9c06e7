package remote

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/oci-ferry/ferry/layout"
)

// Sizes of the pipe's buffers: enough in flight that reading and hashing
// the next piece overlaps the transport's write of this one (and, over
// TLS, its encryption), few enough that eight blobs in flight cost 8 MiB.
const (
	pipeBuf   = 256 << 10
	pipeDepth = 4
)

// pipeStopWait is how long close waits for a stopped producer: one not
// in a read returns at once, so this only bounds the wait for one that
// is.
const pipeStopWait = 50 * time.Millisecond

var pipeBufs = sync.Pool{New: func() any { b := make([]byte, pipeBuf); return &b }}

// pipe reads a blob through its VerifyReader in a goroutine of its own,
// a few buffers ahead of the transport, so the file read and the hash run
// beside the send rather than between its writes: on a fast link (a LAN,
// loopback, TLS) a push then costs the larger of the two, not their sum.
// What the transport is given is the very bytes that were hashed. The
// last tailHold bytes are a piece of their own, handed over only once
// the whole blob verified: a registry never sees a complete body of
// bytes ferry has not checked.
type pipe struct {
	rd   *layout.VerifyReader
	size int64

	full chan piece    // read and hashed, in order
	free chan *[]byte  // buffers the transport is done with
	stop chan struct{} // closed: the producer gives up
	done chan struct{} // closed when the producer returned
	once sync.Once
	err  error // the producer's, set before done closes
	ok   bool  // the whole blob verified, set before the tail is queued

	cur  piece // the consumer's piece in hand
	at   int   // how much of cur.b it has taken
	read int64 // bytes the consumer has taken in all
}

type piece struct {
	buf *[]byte
	b   []byte
	err error
}

func newPipe(rd *layout.VerifyReader, size int64) *pipe {
	p := &pipe{rd: rd, size: size, full: make(chan piece, pipeDepth), free: make(chan *[]byte, pipeDepth),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range pipeDepth {
		p.free <- pipeBufs.Get().(*[]byte)
	}
	go p.run()
	return p
}

// run is the producer: each piece read through the verifier; the tail
// read apart, and queued only after the digest matched.
func (p *pipe) run() {
	defer close(p.done)
	var got int64
	for got < p.size {
		var buf *[]byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			p.err = errAborted
			return
		}
		left := p.size - got
		want := min(int64(len(*buf)), left)
		tail := left <= tailHold
		if !tail && left-want < tailHold {
			want = left - tailHold // the tail comes as a piece of its own
		}
		n, err := io.ReadFull(p.rd, (*buf)[:want])
		got += int64(n)
		if err == nil && tail {
			if err = p.rd.Drain(); err == nil {
				p.ok = true
			}
		}
		if err != nil {
			p.err = err
			pipeBufs.Put(buf)
			p.queue(piece{err: err})
			return
		}
		if !p.queue(piece{buf: buf, b: (*buf)[:n]}) {
			return
		}
	}
}

func (p *pipe) queue(pc piece) bool {
	select {
	case p.full <- pc:
		return true
	case <-p.stop:
		if pc.buf != nil {
			pipeBufs.Put(pc.buf)
		}
		if p.err == nil {
			p.err = errAborted
		}
		return false
	}
}

// take copies up to len(b) of the next bytes, waiting for the producer.
func (p *pipe) take(b []byte) (int, error) {
	if p.at == len(p.cur.b) {
		if p.cur.buf != nil {
			p.free <- p.cur.buf // room: the consumer holds at most one
			p.cur = piece{}
		}
		pc, open := <-p.full
		if !open {
			return 0, io.ErrUnexpectedEOF
		}
		if pc.err != nil {
			return 0, pc.err
		}
		p.cur, p.at = pc, 0
	}
	n := copy(b, p.cur.b[p.at:])
	p.at += n
	p.read += int64(n)
	return n, nil
}

// verified reports whether the consumer has taken every byte and the
// producer checked them all.
func (p *pipe) verified() bool {
	if p.read != p.size {
		return false
	}
	<-p.done
	return p.ok
}

// close stops the producer and, if it is not in a read of the source,
// waits for it, returning what it found wrong, if anything but being
// stopped. One in a read is left to return by itself: in a copy between
// two registries the source may be stalled, and a push whose destination
// failed must not wait out the source's idle timeout; the caller closes
// the source next, which ends that read, and the producer, finding stop
// closed, returns (its buffers go to the collector, not back to the
// pool).
func (p *pipe) close() error {
	p.once.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-time.After(pipeStopWait):
		return nil
	}
	if p.cur.buf != nil {
		pipeBufs.Put(p.cur.buf)
		p.cur = piece{}
	}
	for {
		select {
		case pc := <-p.full:
			if pc.buf != nil {
				pipeBufs.Put(pc.buf)
			}
			continue
		default:
		}
		break
	}
	for {
		select {
		case buf := <-p.free:
			pipeBufs.Put(buf)
			continue
		default:
		}
		break
	}
	if p.err != nil && !errors.Is(p.err, errAborted) {
		return p.err
	}
	return nil
}

// pipeChunk is n bytes of the pipe as one request's body, lent to the
// transport until shut (see gate).
type pipeChunk struct {
	gate
	p     *pipe
	n     int64
	taken int64
	err   error // what the pipe refused the transport with
}

func (p *pipe) chunk(n int64) *pipeChunk {
	c := &pipeChunk{p: p, n: n}
	c.gate.r = readerFunc(c.read)
	return c
}

func (c *pipeChunk) read(b []byte) (int, error) {
	if c.taken == c.n {
		return 0, io.EOF
	}
	if int64(len(b)) > c.n-c.taken {
		b = b[:c.n-c.taken]
	}
	k, err := c.p.take(b)
	c.taken += int64(k)
	if err != nil {
		c.err = err
	}
	return k, err
}

func (c *pipeChunk) rebuild() (io.Reader, error) {
	if c.taken != 0 {
		return nil, errResend
	}
	return &c.gate, nil
}
