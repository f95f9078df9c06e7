package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/internal/webtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/web"
)

func TestSplitURL(t *testing.T) {
	for _, c := range []struct{ in, base, name, err string }{
		{"https://h/images", "https://h/images/", "", ""},
		{"https://h/images/index.json", "https://h/images/", "", ""},
		{"http://h:8080/", "http://h:8080/", "", ""},
		{"https://h/a/#busybox:1.36", "https://h/a/", "busybox:1.36", ""},
		{"https://u:p@h/a/", "", "", "credentials file"},
		{"https://h/a/?X-Amz-Signature=1", "", "", "no query"},
		{"https:///a/", "", "", "with a host"},
	} {
		base, name, err := web.SplitURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), ":p@") {
				t.Errorf("SplitURL(%q): %v, want an error about %q that hides the password", c.in, err, c.err)
			}
			continue
		}
		if err != nil || base != c.base || name != c.name {
			t.Errorf("SplitURL(%q) = %q, %q, %v; want %q, %q", c.in, base, name, err, c.base, c.name)
		}
	}
}

// serve publishes a layout with Go's file server behind hook, which may
// answer instead; it counts requests.
func serve(t *testing.T, dir string, hook func(w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if hook == nil || !hook(w, r) {
			fs.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestBadDigestNeverRequested: a digest that is not one never becomes a
// path on the server (a crafted hex could climb out of blobs/).
func TestBadDigestNeverRequested(t *testing.T) {
	set := testimage.New(t)
	srv, n := serve(t, set.Dir, nil)
	ctx := context.Background()
	st, err := web.Open(ctx, &remote.Client{}, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	before := n.Load()
	for _, dg := range []string{"sha256:../../../etc/passwd", "sha256:" + strings.Repeat("A", 64), "md5:00"} {
		d := ocispec.Descriptor{Digest: digest.Digest(dg), Size: 1}
		if _, err := st.Fetch(ctx, d); err == nil {
			t.Errorf("Fetch(%s) was not refused", dg)
		}
		if _, err := st.Info(ctx, d.Digest); err == nil {
			t.Errorf("Info(%s) was not refused", dg)
		}
	}
	if n.Load() != before {
		t.Errorf("%d requests for invalid digests reached the server", n.Load()-before)
	}
}

// TestIndexOverCapRefused: an index.json over the cap is refused, whether
// the server announces its size or streams it; no more than the cap is
// read, and nothing is written.
func TestIndexOverCapRefused(t *testing.T) {
	set := testimage.New(t)
	for _, announce := range []bool{true, false} {
		var sent atomic.Int64
		srv, _ := serve(t, set.Dir, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/index.json" {
				return false
			}
			size := int64(layout.MaxIndexSize) * 16
			if announce {
				w.Header().Set("Content-Length", fmt.Sprint(size))
			}
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for i := int64(0); i < size; i += int64(len(chunk)) {
				if _, err := w.Write(chunk); err != nil {
					return true
				}
				sent.Add(int64(len(chunk)))
				w.(http.Flusher).Flush()
			}
			return true
		})
		dst := filepath.Join(t.TempDir(), "dst")
		_, err := sync.Copy(context.Background(), &remote.Client{}, sync.ParseEndpoint(srv.URL+"/"), sync.PathEndpoint(dst), sync.CopyOptions{})
		if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "index.json") {
			t.Fatalf("announce=%v: %v, want ErrTooLarge naming index.json", announce, err)
		}
		if _, serr := filepath.Glob(dst); serr == nil {
			if m, _ := filepath.Glob(filepath.Join(dst, "*")); len(m) > 0 {
				t.Errorf("announce=%v: %s was written: %v", announce, dst, m)
			}
		}
		// Loopback socket buffers take a few MiB the client never reads;
		// a client that read on to the end would take all 64.
		if s := sent.Load(); s > 4*int64(layout.MaxIndexSize) {
			t.Errorf("announce=%v: the server sent %d bytes of an index.json capped at %d", announce, s, layout.MaxIndexSize)
		}
	}
}

// TestRedirectCarriesNoCredentials: a server that redirects blobs to
// another host gets them fetched there, without the credentials meant
// for itself.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	set := testimage.New(t)
	var leaked atomic.Int64
	other, _ := serve(t, set.Dir, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		return false
	})
	var authed atomic.Int64
	srv, _ := serve(t, set.Dir, func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		authed.Add(1)
		if strings.HasPrefix(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
			return true
		}
		return false
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	c := &remote.Client{Credentials: remote.DockerCredentials(map[string]remote.Credential{host: {Username: "alice", Password: "s3cret"}})}
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := sync.Copy(context.Background(), c, sync.ParseEndpoint(srv.URL+"/"), sync.PathEndpoint(dst), sync.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if authed.Load() == 0 {
		t.Fatal("the credentials never reached the server they are for")
	}
	if leaked.Load() != 0 {
		t.Fatalf("%d requests carried the credentials to the redirect's host", leaked.Load())
	}
}

// TestWebIsReadOnly: a web server as a destination is refused with the
// way to publish one.
func TestWebIsReadOnly(t *testing.T) {
	set := testimage.New(t)
	_, err := sync.Copy(context.Background(), &remote.Client{}, sync.Endpoint{Kind: sync.Layout, Path: set.Dir}, sync.ParseEndpoint("https://mirror.example/images/"), sync.CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "publish") {
		t.Fatalf("copy to a web server: %v", err)
	}
}

// TestHTTPSNeverDowngraded: the registry client lets a loopback registry
// fall back to plain HTTP; a URL the user wrote as https must not.
func TestHTTPSNeverDowngraded(t *testing.T) {
	set := testimage.New(t)
	srv, n := serve(t, set.Dir, nil)
	_, err := web.Open(context.Background(), &remote.Client{}, "https://"+strings.TrimPrefix(srv.URL, "http://")+"/")
	if err == nil || n.Load() != 0 {
		t.Fatalf("https to a plain HTTP server: %v after %d plain requests", err, n.Load())
	}
}

// TestBearerFromRegistryToken: a server asking for Bearer gets the
// credentials file's registrytoken; with only an identitytoken, nothing is
// sent to the realm the server names, and the error says what to do.
func TestBearerFromRegistryToken(t *testing.T) {
	set := testimage.New(t)
	var realmHits atomic.Int64
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { realmHits.Add(1) }))
	t.Cleanup(realm.Close)
	srv, _ := serve(t, set.Dir, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer tok3n" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	with := func(cred remote.Credential) *remote.Client {
		return &remote.Client{Credentials: remote.DockerCredentials(map[string]remote.Credential{host: cred})}
	}
	st, err := web.Open(context.Background(), with(remote.Credential{RegistryToken: "tok3n"}), srv.URL+"/")
	if err != nil || len(st.Images()) == 0 {
		t.Fatalf("with a registrytoken: %v", err)
	}
	_, err = web.Open(context.Background(), with(remote.Credential{IdentityToken: "refresh"}), srv.URL+"/")
	if err == nil || !strings.Contains(err.Error(), "registrytoken") || realmHits.Load() != 0 {
		t.Fatalf("with only an identitytoken: %v, %d requests to the realm", err, realmHits.Load())
	}
}

func TestParseEndpointWeb(t *testing.T) {
	for in, want := range map[string]sync.Endpoint{
		"https://mirror/images/index.json":  {Kind: sync.Web, Path: "https://mirror/images/"},
		"http://127.0.0.1:8080/x#busybox:1": {Kind: sync.Web, Path: "http://127.0.0.1:8080/x/", Names: []string{"busybox:1"}},
		"docker://mirror/images":            {Kind: sync.Registry, Names: []string{"mirror/images"}},
	} {
		got := sync.ParseEndpoint(in)
		if got.Kind != want.Kind || got.Path != want.Path || strings.Join(got.Names, ",") != strings.Join(want.Names, ",") {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", in, got, want)
		}
	}
}

// TestWebToRegistry pushes what nginx serves into the real registry:
// every digest arrives unchanged.
func TestWebToRegistry(t *testing.T) {
	set := testimage.New(t)
	srv := webtest.Serve(t, set.Dir, webtest.Options{Plain: true})
	reg := regtest.Start(t)
	c := &remote.Client{}
	ctx := context.Background()
	res, err := sync.Copy(ctx, c, sync.ParseEndpoint(srv.URL+"#example.com/app:v1"), sync.ParseEndpoint(reg.Host+"/mirror"), sync.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pushed) != 1 || res.Pushed[0].Digest != set.Index.Digest {
		t.Fatalf("pushed %+v, want the index %s unchanged", res.Pushed, set.Index.Digest)
	}
	d, err := c.Repository(layout.Ref{Repo: reg.Host + "/mirror/app"}, false).Resolve(ctx, "v1")
	if err != nil || d.Digest != set.Index.Digest {
		t.Fatalf("the registry resolves v1 to %s (%v), want %s", d.Digest, err, set.Index.Digest)
	}
}

// TestNotALayout: a server with no layout at the URL (and no registry
// API) says so, naming the URL.
func TestNotALayout(t *testing.T) {
	srv, _ := serve(t, t.TempDir(), nil)
	_, err := web.Open(context.Background(), &remote.Client{}, srv.URL+"/images/")
	if !errors.Is(err, layout.ErrNotFound) || !strings.Contains(err.Error(), srv.URL+"/images/ is not an OCI layout") || strings.Contains(err.Error(), "docker://") {
		t.Fatalf("%v", err)
	}
}
