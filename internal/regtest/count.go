package regtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Counter sits in front of a registry and counts what clients send it:
// request body bytes and the requests that carry content (PATCH, PUT), so
// a test can prove a re-run sent only what the registry lacked, and can
// act (kill a client) once a given byte has arrived. It counts the blob
// bytes it answers the same way, for pulls.
type Counter struct {
	Host string

	bytes atomic.Int64
	busy  sync.WaitGroup
	mu    sync.Mutex
	sends []string // "METHOD path" of every request that carried content
	on    atomic.Pointer[func(total int64)]

	pace     atomic.Int64 // bytes per second of each blob answer; 0: unpaced
	shared   atomic.Pointer[sharedPace]
	served   atomic.Int64 // blob bytes answered to GETs
	fetches  []string     // "GET path" of every blob GET
	onServed atomic.Pointer[func(total int64)]
}

// OnServed has fn called with the running total of blob bytes answered
// to clients as they leave, from the proxy's goroutines; nil stops it.
// A test kills a pulling client with it at a chosen byte.
func (c *Counter) OnServed(fn func(total int64)) {
	if fn == nil {
		c.onServed.Store(nil)
		return
	}
	c.onServed.Store(&fn)
}

// PaceStreams caps each blob answer at rate bytes per second, as a link
// that limits every connection on its own (a TCP window over a long
// round trip, a per-stream CDN cap) does; 0 lifts the cap.
func (c *Counter) PaceStreams(rate int64) { c.pace.Store(rate) }

// PaceShared holds all blob answers together to rate bytes per second,
// as one line shared by every connection does: a client that opens more
// connections only divides the same rate among them. 0 lifts it.
func (c *Counter) PaceShared(rate int64) {
	if rate <= 0 {
		c.shared.Store(nil)
		return
	}
	c.shared.Store(&sharedPace{rate: rate})
}

// sharedPace is one line's clock: when it has sent all it was given.
type sharedPace struct {
	rate int64
	mu   sync.Mutex
	free time.Time
}

// wait sleeps until n more bytes have had their turn on the line.
func (s *sharedPace) wait(n int) {
	s.mu.Lock()
	now := time.Now()
	if s.free.Before(now) {
		s.free = now
	}
	s.free = s.free.Add(time.Duration(float64(n) / float64(s.rate) * float64(time.Second)))
	due := s.free
	s.mu.Unlock()
	time.Sleep(time.Until(due))
}

// Served is the blob bytes answered to GETs since the last Reset.
func (c *Counter) Served() int64 { return c.served.Load() }

// Fetches lists the blob GETs since the last Reset.
func (c *Counter) Fetches() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.fetches...)
}

// OnBytes has fn called with the running total as body bytes arrive,
// from the proxy's goroutines; nil stops it.
func (c *Counter) OnBytes(fn func(total int64)) {
	if fn == nil {
		c.on.Store(nil)
		return
	}
	c.on.Store(&fn)
}

// NewCounter starts a counting proxy to reg until the test ends.
func NewCounter(t testing.TB, reg *Registry) *Counter {
	c := &Counter{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(w, r, reg.Host) }))
	// Host is set before the server serves: a client in another process
	// (a ferry the test runs) reaches the handler with no ordering the
	// race detector can see.
	c.Host = srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	return c
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.bytes.Store(0)
	c.served.Store(0)
	c.mu.Lock()
	c.sends, c.fetches = nil, nil
	c.mu.Unlock()
}

// Settle waits until no request is in flight: one a killed client left
// may still reach the registry, and a test must look only after it did.
func (c *Counter) Settle() { c.busy.Wait() }

// Bytes is the request body bytes received since the last Reset.
func (c *Counter) Bytes() int64 { return c.bytes.Load() }

// Sends lists the requests that carried content since the last Reset.
func (c *Counter) Sends() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sends...)
}

type countingBody struct {
	c *Counter
	r io.ReadCloser
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		total := b.c.bytes.Add(int64(n))
		if fn := b.c.on.Load(); fn != nil {
			(*fn)(total)
		}
	}
	return n, err
}

func (b *countingBody) Close() error { return b.r.Close() }

func (c *Counter) serve(w http.ResponseWriter, r *http.Request, upstream string) {
	c.busy.Add(1)
	defer c.busy.Done()
	if r.Method == http.MethodPut || r.Method == http.MethodPatch {
		c.mu.Lock()
		c.sends = append(c.sends, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
	}
	var body io.Reader = http.NoBody
	if r.ContentLength != 0 {
		body = &countingBody{c: c, r: r.Body}
	}
	// Not the client's context: when a killed client hangs up, the
	// registry's answer is still awaited, so Settle means settled.
	resp := forward(context.Background(), w, r, upstream, c.Host, body)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
		io.Copy(w, resp.Body)
		return
	}
	c.mu.Lock()
	c.fetches = append(c.fetches, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	buf := make([]byte, 32<<10)
	p := pacer{rate: c.pace.Load(), start: time.Now()}
	line := c.shared.Load()
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			p.wait(n)
			if line != nil {
				line.wait(n)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			total := c.served.Add(int64(n))
			if fn := c.onServed.Load(); fn != nil {
				(*fn)(total)
			}
		}
		if err != nil {
			return
		}
	}
}

// pacer holds a stream to rate bytes per second from start.
type pacer struct {
	rate  int64
	start time.Time
	sent  int64
}

// wait sleeps until n more bytes are due.
func (p *pacer) wait(n int) {
	if p.rate <= 0 {
		return
	}
	p.sent += int64(n)
	due := p.start.Add(time.Duration(float64(p.sent) / float64(p.rate) * float64(time.Second)))
	time.Sleep(time.Until(due))
}

// PacedHandler serves h with each answer's body held to rate bytes per
// second, for a test server that stands for a capped link.
func PacedHandler(rate int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&pacedWriter{ResponseWriter: w, p: pacer{rate: rate, start: time.Now()}}, r)
	})
}

type pacedWriter struct {
	http.ResponseWriter
	p pacer
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 32<<10)
		w.p.wait(k)
		m, err := w.ResponseWriter.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}
