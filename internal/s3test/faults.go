package s3test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Flaky sits in front of a server and answers the first n PUTs whose
// path contains match with 503 SlowDown, after reading part of the body,
// as an overloaded S3 endpoint does; everything else passes through with
// its Host header kept, so signatures still match.
type Flaky struct {
	Host  string
	fired atomic.Int64
}

// URL is the proxy's endpoint.
func (f *Flaky) URL() string { return "http://" + f.Host }

// Fired says how many requests were refused.
func (f *Flaky) Fired() int { return int(f.fired.Load()) }

// NewFlaky starts the proxy until the test ends.
func NewFlaky(t testing.TB, s *Server, match string, n int) *Flaky {
	f := &Flaky{}
	up, _ := url.Parse(s.URL())
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.Director = func(r *http.Request) { r.URL.Scheme, r.URL.Host = up.Scheme, up.Host } // r.Host stays the client's
	var left atomic.Int64
	left.Store(int64(n))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, match) && left.Add(-1) >= 0 {
			f.fired.Add(1)
			io.CopyN(io.Discard, r.Body, 1024)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.Host = strings.TrimPrefix(srv.URL, "http://")
	return f
}
