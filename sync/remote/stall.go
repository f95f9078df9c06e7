package remote

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Client.IdleTimeout and Client.RetryTimeout.
const (
	// DefaultIdleTimeout: a working registry, even over a slow or lossy
	// link, sends some bytes every few seconds; a minute of silence
	// means the connection is dead, and the blob resumes on a new one.
	DefaultIdleTimeout = time.Minute
	// DefaultRetryTimeout bounds how long one request may go without an
	// answer, retries and their waits included (for a blob, counted
	// from its last byte received): long enough for four retries that
	// honour a 30 s Retry-After, short enough that a registry that
	// accepts connections and never answers costs two minutes, not 25.
	DefaultRetryTimeout = 2 * time.Minute
)

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return c.IdleTimeout
}

func (c *Client) retryTimeout() time.Duration {
	if c.RetryTimeout <= 0 {
		return DefaultRetryTimeout
	}
	return c.RetryTimeout
}

// stallError is a body that made no progress for the idle time-out. It
// is a net.Error timeout, so a blob download resumes on a new connection.
type stallError struct {
	what string
	d    time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%s: no progress for %s (idle time-out)", e.what, e.d)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// watchdog cancels an exchange whose body stops moving. It runs only
// while ferry waits on the network, never while ferry's own side is slow
// (a consumer writing to a USB stick, a source being read), so
// backpressure is never mistaken for a stall.
type watchdog struct {
	t     *time.Timer
	d     time.Duration
	fired atomic.Bool
	off   atomic.Bool
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() { w.fired.Store(true); cancel() })
	w.t.Stop()
	return w
}

func (w *watchdog) arm() {
	if !w.off.Load() {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() { w.t.Stop() }

// retire stops the watchdog for good: HTTP/2 may still read a request
// body after the response arrived, and must not re-arm it then.
func (w *watchdog) retire() {
	w.off.Store(true)
	w.t.Stop()
}

// idleBody is a response body under a watchdog; closing it ends the
// exchange's context.
type idleBody struct {
	rc     io.ReadCloser
	wd     *watchdog
	cancel context.CancelFunc
	what   string
	once   sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.wd.arm()
	n, err := b.rc.Read(p)
	b.wd.stop()
	if err != nil && err != io.EOF && b.wd.fired.Load() {
		return n, &stallError{what: b.what, d: b.wd.d}
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.wd.stop(); b.cancel() })
	return err
}

// idleUpload is a request body under a watchdog: it runs between the
// transport's reads, that is while the transport writes to a server that
// may have stopped reading, and stops once the last byte is handed over,
// so the wait for the registry to commit the upload is not cut short.
type idleUpload struct {
	r    io.Reader
	wd   *watchdog
	left int64
}

func (u *idleUpload) Read(p []byte) (int, error) {
	u.wd.stop()
	n, err := u.r.Read(p)
	u.left -= int64(n)
	if err == nil && u.left > 0 {
		u.wd.arm()
	}
	return n, err
}
