package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// sendfile says whether uploads to host go from the file by sendfile:
// only over plain HTTP (TLS encrypts in ferry, so the bytes pass through
// it anyway, and one read hashed in line beats two), and not on loopback,
// where the registry's side of the same kernel pays for the pages the
// sender did not copy (measured: 0.3 s more of the registry's CPU per
// GiB against 0.1 s less of ferry's). Across a real link the receiver's
// costs are not ferry's host's, and zero copies are pure gain.
func (c *Client) sendfile(host string) bool {
	switch c.sendMode {
	case sendAlways:
		return true
	case sendCopy:
		return false
	}
	return !loopback(host) && c.scheme(host) == "http"
}

// Client.sendMode values; tests choose one to cover both paths.
const (
	sendAuto = iota
	sendAlways
	sendCopy
)

// uploadCancelTime bounds the DELETE that drops an abandoned session.
const uploadCancelTime = 5 * time.Second

// Polling bounds of the hash beside a sendfile: it cannot be told when
// the kernel moved bytes, so it looks at the file position, often while
// bytes flow and more rarely while the link is stalled.
const (
	minPoll = 100 * time.Microsecond
	maxPoll = 5 * time.Millisecond
)

var errAborted = errors.New("upload abandoned")

// uploadSource feeds a blob's PATCHes. Where the verified stream is a
// whole regular file, the bytes go from a second description of that
// file straight to the socket (sendfile: no copy through ferry), and a
// goroutine hashes the same bytes through the VerifyReader, never ahead
// of what was sent: a byte that changes before it is sent is hashed
// changed, one that changes after was sent as it was hashed, so what was
// sent is what was verified (short of a change and its undoing between
// the two reads). Otherwise the transport reads through the VerifyReader
// itself, hashing in line.
type uploadSource struct {
	rd     *layout.VerifyReader
	d      ocispec.Descriptor
	cancel context.CancelFunc

	f      *os.File // own description of the file beneath rd; nil: piped
	pipe   *pipe    // the blob read and hashed ahead of the send, when not by sendfile
	end    atomic.Int64
	wd     atomic.Pointer[watchdog]
	stop   chan struct{}
	once   sync.Once
	hashed chan error // the hash beside the send's outcome, once
	result error
	waited bool
}

func newUploadSource(rd *layout.VerifyReader, d ocispec.Descriptor, cancel context.CancelFunc, sendfile bool) *uploadSource {
	s := &uploadSource{rd: rd, d: d, cancel: cancel}
	if sendfile {
		if f := sendable(rd, d); f != nil {
			s.f, s.stop, s.hashed = f, make(chan struct{}), make(chan error, 1)
			go func() { s.hashed <- s.hashBeside() }()
			return s
		}
	}
	s.pipe = newPipe(rd, d.Size)
	return s
}

// sendable opens a second description of the regular file beneath rd,
// if rd reads one from its start, to sendfile from: the VerifyReader
// keeps reading its own, so the two offsets never mix.
func sendable(rd *layout.VerifyReader, d ocispec.Descriptor) *os.File {
	var r io.Reader = rd
	for range 8 {
		u, ok := r.(interface{ Underlying() io.Reader })
		if !ok {
			break
		}
		r = u.Underlying()
	}
	f, ok := r.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != d.Size {
		return nil
	}
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return nil
	}
	g, err := reopen(f)
	if err != nil {
		return nil
	}
	if gi, err := g.Stat(); err != nil || !os.SameFile(fi, gi) {
		g.Close()
		return nil
	}
	return g
}

// hashBeside reads rd up to what has left through s.f, until the end,
// and keeps the request's watchdog fed meanwhile: the transport's own
// reads, which would feed it, are not there to see under sendfile.
func (s *uploadSource) hashBeside() error {
	buf := make([]byte, 1<<20)
	var hashed int64
	wait := minPoll
	for hashed < s.d.Size {
		sent, err := s.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return s.fail(err)
		}
		if wd := s.wd.Load(); wd != nil {
			if sent < s.end.Load() {
				if sent > hashed {
					wd.arm()
				}
			} else {
				wd.stop() // all handed over: the registry's answer may take long
			}
		}
		if sent <= hashed {
			select {
			case <-s.stop:
				return errAborted
			case <-time.After(wait):
			}
			wait = min(2*wait, maxPoll)
			continue
		}
		wait = minPoll
		for hashed < sent {
			n, err := io.ReadFull(s.rd, buf[:min(int64(len(buf)), sent-hashed)])
			hashed += int64(n)
			if err != nil {
				return s.fail(err)
			}
		}
	}
	if err := s.rd.Drain(); err != nil {
		return s.fail(err)
	}
	return nil
}

// fail stops the send at once: nothing after a bad byte is worth sending.
func (s *uploadSource) fail(err error) error {
	s.cancel()
	return err
}

// wait is the hash beside the send's outcome.
func (s *uploadSource) wait() error {
	if !s.waited {
		s.result, s.waited = <-s.hashed, true
	}
	return s.result
}

// chunk is the body of the next request, n bytes.
func (s *uploadSource) chunk(n int64) (uploadBody, error) {
	if s.f == nil {
		return s.pipe.chunk(n), nil
	}
	start, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	c := &fileChunk{s: s, start: start, end: start + n}
	s.end.Store(c.end)
	return c, nil
}

// finish waits for every byte sent by sendfile to be verified.
func (s *uploadSource) finish() error { return s.wait() }

// abort stops the hash beside a failed send and says what it found, if
// anything: a source that changed or ended is why the send failed.
func (s *uploadSource) abort() error {
	if s.f == nil {
		return s.pipe.close()
	}
	s.once.Do(func() { close(s.stop) })
	if err := s.wait(); err != nil && !errors.Is(err, errAborted) {
		return err
	}
	return nil
}

func (s *uploadSource) close() {
	s.abort()
	if s.f != nil {
		s.f.Close()
	}
}

// uploadBody is a PATCH body lent to the transport until shut.
type uploadBody interface {
	rebuild() (io.Reader, error)
	shut()
}

var errResend = errors.New("a streamed upload chunk cannot be sent again once it began")

// fileChunk is a chunk of the file, offered to the transport as
// something the kernel can sendfile: a ReadCloser (so net/http does not
// wrap it) that is a syscall.Conn (so net's sendfile takes it).
type fileChunk struct {
	s          *uploadSource
	start, end int64
	mu         sync.Mutex
	closed     bool
}

func (c *fileChunk) rebuild() (io.Reader, error) {
	if pos, err := c.s.f.Seek(0, io.SeekCurrent); err != nil || pos != c.start {
		return nil, errResend
	}
	return c, nil
}

// watchBy takes the request's watchdog, which the hash beside feeds.
func (c *fileChunk) watchBy(wd *watchdog) { c.s.wd.Store(wd) }

func (c *fileChunk) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errGateShut
	}
	pos, err := c.s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos >= c.end {
		return 0, io.EOF
	}
	if int64(len(p)) > c.end-pos {
		p = p[:c.end-pos]
	}
	n, err := c.s.f.Read(p)
	if err == io.EOF && pos+int64(n) < c.end {
		err = fmt.Errorf("%s: %w: the file ended at %d of %d bytes while it was sent", c.s.d.Digest, layout.ErrSizeMismatch, pos+int64(n), c.s.d.Size)
	}
	return n, err
}

// Close is the transport's, after the body went: the file stays open for
// the next chunk and the hash beside.
func (c *fileChunk) Close() error { return nil }

func (c *fileChunk) shut() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

func (c *fileChunk) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.s.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &chunkConn{RawConn: rc, c: c}, nil
}

// chunkConn holds the chunk's gate while the kernel sends from the file,
// so shut waits for a sendfile in flight as for a read.
type chunkConn struct {
	syscall.RawConn
	c *fileChunk
}

func (cc *chunkConn) Read(fn func(fd uintptr) bool) error {
	cc.c.mu.Lock()
	defer cc.c.mu.Unlock()
	if cc.c.closed {
		return errGateShut
	}
	return cc.RawConn.Read(fn)
}

// tailHold is how much of a blob's end the closing PUT keeps back until
// the digest matched: one read's worth.
const tailHold = 64 << 10

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
