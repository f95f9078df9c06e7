package serve

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRoute holds the router to its contract: it never panics, and a
// route it returns for a name always carries a name that is the path's
// own text, so nothing outside the path can be named.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/manifests/latest", "/v2/a/blobs/sha256:00", "/v2/a/tags/list",
		"/v2/a/referrers/sha256:00", "/v2/a/blobs/uploads/", "/v2/../manifests/x", "/v2/a/manifests/b/manifests/c", "/v2//blobs/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := parseRoute(p)
		if r.kind != routeNone && r.kind != routeBase && r.kind != routeCatalog && !strings.Contains(p, r.name) {
			t.Fatalf("%q: name %q is not from the path", p, r.name)
		}
		if r.kind == routeManifest || r.kind == routeBlob || r.kind == routeReferrers {
			if r.ref == "" || strings.Contains(r.ref, "/") || !strings.HasSuffix(p, "/"+r.ref) {
				t.Fatalf("%q: ref %q", p, r.ref)
			}
		}
	})
}

// FuzzServe sends any path and query to a server with content behind it:
// every answer is one of the API's, with a JSON error for failures, and
// nothing panics.
func FuzzServe(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog?n=1&last=a", "/v2/x/tags/list?n=99999999999999999999", "/v2/x/manifests/v1",
		"/v2/x/blobs/sha256:" + strings.Repeat("a", 64), "/v2/x/referrers/sha256:" + strings.Repeat("a", 64) + "?artifactType=x"} {
		f.Add(s, "GET", "")
	}
	f.Add("/v2/x/blobs/uploads/", "POST", "")
	f.Add("/v2/x/blobs/sha256:"+strings.Repeat("a", 64), "GET", "bytes=-5")
	s := &Server{src: nil, idx: &index{repos: map[string]*repository{"x": {name: "x", tags: nil}}, names: []string{"x"}},
		cfg: Config{MaxRequests: 4, Log: NewLogger(nil, false)}, verified: newVerifiedSet(4), slots: make(chan struct{}, 4)}
	f.Fuzz(func(t *testing.T, target, method, rng string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		if method != "GET" && method != "HEAD" && method != "POST" && method != "PUT" && method != "DELETE" {
			method = "GET"
		}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}, RemoteAddr: "fuzz"}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req.WithContext(t.Context()))
		if w.Code >= 400 && method != "HEAD" && !strings.Contains(w.Body.String(), `"errors"`) {
			t.Fatalf("%s %s: %d without a spec error: %q", method, target, w.Code, w.Body.String())
		}
	})
}
