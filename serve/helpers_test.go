package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/serve"
)

// start serves the layout, archive or volume set at path on a loopback
// test server and returns its host:port.
func start(t *testing.T, path string, cfg serve.Config) (*serve.Server, string) {
	t.Helper()
	src, err := archive.OpenInPlace(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if cfg.Log == nil {
		cfg.Log = serve.NewLogger(testLog{t}, false)
	}
	srv, err := serve.New(context.Background(), src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, strings.TrimPrefix(hs.URL, "http://")
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// get sends one request and returns the response with its whole body.
func get(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

// bigImage writes a layout holding one image, big.example/big:1, whose
// layer is larger than the server's copy buffer, so a response of it
// spans several writes.
func bigImage(t *testing.T) (string, testimage.Image) {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var sb strings.Builder
	for i := 0; sb.Len() < 400<<10; i++ {
		fmt.Fprintf(&sb, "line %d of a layer bigger than one buffer\n", i)
	}
	im := testimage.Build(t, txn, "amd64", sb.String())
	r, _ := layout.ParseRef("big.example/big:1")
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: r, Desc: layout.Annotate(im.Manifest, r)}}); err != nil {
		t.Fatal(err)
	}
	return dir, im
}

// corrupt flips one byte in the middle of the blob file of d, keeping its
// size.
func corrupt(t *testing.T, dir string, d ocispec.Descriptor) {
	t.Helper()
	p := filepath.Join(dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncLog is a log the test reads while the server writes it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// waitFor returns the log once it holds want (the server logs a request
// after the client has seen its end), or as it is after a few seconds.
func (s *syncLog) waitFor(want string) string {
	for i := 0; ; i++ {
		s.mu.Lock()
		out := s.b.String()
		s.mu.Unlock()
		if strings.Contains(out, want) || i == 250 {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}
