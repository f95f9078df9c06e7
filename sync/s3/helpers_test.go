package s3_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/s3test"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/s3"
)

var prefixes atomic.Int64

// bucket starts a server with one bucket and the AWS variables set to
// its root credentials.
func bucket(t *testing.T) (*s3test.Server, string) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Bucket(t, "ferry-test")
	srv.Env(t)
	return srv, "ferry-test"
}

// open opens a fresh prefix of the bucket.
func open(t *testing.T, srv *s3test.Server, b string, cfg s3.Config) (*s3.Store, string) {
	t.Helper()
	prefix := fmt.Sprintf("p%d/layout", prefixes.Add(1))
	cfg.Endpoint, cfg.PathStyle = srv.URL(), true
	st, err := s3.Open("s3://"+b+"/"+prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, prefix
}

// source opens a layout directory the way a copy reads it.
func source(t *testing.T, dir string) *archive.Source {
	t.Helper()
	src, err := archive.Open(context.Background(), dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// files maps every file under dir to its modification time and size:
// what the server's posix backend shows of objects written.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[rel] = fmt.Sprintf("%d %d", fi.ModTime().UnixNano(), fi.Size())
		return nil
	})
	return m
}

// object is the bytes the server holds under a key, read from its backend.
func object(t *testing.T, srv *s3test.Server, b, key string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(srv.Dir, b, key))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// paused holds Fetch of one blob until released, so a test can look at
// the bucket in the middle of a copy.
type paused struct {
	layout.ReadOnly
	blob    digest.Digest
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *paused) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if d.Digest == p.blob {
		p.once.Do(func() { close(p.reached) })
		select {
		case <-p.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return p.ReadOnly.Fetch(ctx, d)
}

// lying serves one blob with a byte flipped near its end: a source whose
// bytes do not match its digest, found out only at the last read.
type lying struct {
	layout.ReadOnly
	blob digest.Digest
}

func (l *lying) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := l.ReadOnly.Fetch(ctx, d)
	if err != nil || d.Digest != l.blob {
		return rc, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	b[len(b)-2] ^= 0xff
	return io.NopCloser(&slowReader{b: b}), nil
}

// slowReader hands out its bytes in small reads, as a network would.
type slowReader struct{ b []byte }

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 32<<10)], s.b)
	s.b = s.b[n:]
	return n, nil
}

func waitFor(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the copy never reached the paused blob")
	}
}
