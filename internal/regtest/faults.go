package regtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Fault is one misbehaviour of the proxy: the first Times requests whose
// method and path match (after the first Skip of them) get it, later
// ones pass through.
type Fault struct {
	Method string // "" matches any
	Path   string // substring of the URL path, e.g. "/blobs/sha256:"
	Times  int
	Skip   int // matching requests to pass through first
	// Kind: "reset" (send half the body, then drop the connection),
	// "500", "429" (with Retry-After: 1), "416" (a range refused, as a
	// CDN edge may refuse a second connection's), "corrupt" (flip a byte of the
	// body) or "norange" (strip the Range header, as a registry that
	// ignores it answers); "" passes the request through, after Before.
	Kind string
	// Before, if set, runs before the request is answered: a test changes
	// the registry under the client there (deletes a tag between two of
	// its requests), and the registry's own answer follows.
	Before func(r *http.Request)
}

// Proxy sits in front of a registry and injects faults, so tests can prove
// a misbehaving server yields a correct result or a clear error.
type Proxy struct {
	Host string

	mu      sync.Mutex
	faults  []*Fault
	hits    map[*Fault]int
	skipped map[*Fault]int
}

// NewProxy starts a fault-injecting proxy to reg until the test ends.
func NewProxy(t testing.TB, reg *Registry, faults ...Fault) *Proxy {
	p := &Proxy{hits: map[*Fault]int{}, skipped: map[*Fault]int{}}
	for i := range faults {
		p.faults = append(p.faults, &faults[i])
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, reg.Host) }))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Hits says how often a fault fired.
func (p *Proxy) Hits(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[p.faults[i]]
}

func (p *Proxy) pick(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(r.URL.Path, f.Path) && p.hits[f] < f.Times {
			if p.skipped[f] < f.Skip {
				p.skipped[f]++
				continue
			}
			p.hits[f]++
			return f
		}
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, upstream string) {
	var kind string
	if f := p.pick(r); f != nil {
		if f.Before != nil {
			f.Before(r)
		}
		kind = f.Kind
	}
	switch kind {
	case "500":
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected"}]}`, http.StatusInternalServerError)
		return
	case "416":
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected: range refused"}]}`, http.StatusRequestedRangeNotSatisfiable)
		return
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}`, http.StatusTooManyRequests)
		return
	}
	if kind == "norange" {
		r.Header.Del("Range")
	}
	resp := forward(r.Context(), w, r, upstream, p.Host, r.Body)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	switch kind {
	case "reset":
		io.CopyN(w, resp.Body, max(resp.ContentLength/2, 1))
		w.(http.Flusher).Flush()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	case "corrupt":
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		w.Write(b)
	default:
		io.Copy(w, resp.Body)
	}
}
