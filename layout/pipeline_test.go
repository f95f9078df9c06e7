package layout_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// trickle returns at most 7 KiB a Read, as a socket does.
type trickle struct{ r io.Reader }

func (t trickle) Read(p []byte) (int, error) {
	if len(p) > 7<<10 {
		p = p[:7<<10]
	}
	return t.r.Read(p)
}

type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

// TestPipelineCopies: read ahead, verify, write behind gives the exact
// bytes for sizes around the buffer boundaries.
func TestPipelineCopies(t *testing.T) {
	for _, size := range []int{0, 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 5<<20 + 12345} {
		b := make([]byte, size)
		rand.New(rand.NewSource(int64(size))).Read(b)
		d := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(size)}
		src := &closer{Reader: trickle{bytes.NewReader(b)}}
		ra := layout.NewReadAhead(src, 3)
		vr, err := layout.NewVerifyReader(ra, d)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := layout.CopyBehind(&out, vr, 3)
		if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("size %d: copied %d, err %v, equal %v", size, n, err, bytes.Equal(out.Bytes(), b))
		}
		ra.Close()
		if !src.closed {
			t.Fatalf("size %d: source not closed", size)
		}
	}
}

// TestPipelineErrors: a digest mismatch, a failing source and a failing
// destination each come back as the copy's error.
func TestPipelineErrors(t *testing.T) {
	b := bytes.Repeat([]byte("x"), 3<<20)
	d := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	bad := append([]byte(nil), b...)
	bad[2<<20] = 'y'
	ra := layout.NewReadAhead(io.NopCloser(bytes.NewReader(bad)), 2)
	vr, _ := layout.NewVerifyReader(ra, d)
	var mm *layout.MismatchError
	if _, err := layout.CopyBehind(io.Discard, vr, 2); !errors.As(err, &mm) {
		t.Fatalf("corrupt source: %v", err)
	}
	ra.Close()

	boom := errors.New("boom")
	ra = layout.NewReadAhead(io.NopCloser(io.MultiReader(bytes.NewReader(b[:1<<20]), errReader{boom})), 2)
	if _, err := layout.CopyBehind(io.Discard, ra, 2); !errors.Is(err, boom) {
		t.Fatalf("failing source: %v", err)
	}
	ra.Close()

	if _, err := layout.CopyBehind(failWriter{boom}, bytes.NewReader(b), 2); !errors.Is(err, boom) {
		t.Fatalf("failing destination: %v", err)
	}
}

// TestReadAheadCloseEarly: closing before the end stops the goroutine.
func TestReadAheadCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		ra := layout.NewReadAhead(io.NopCloser(io.LimitReader(zeros{}, 64<<20)), 2)
		io.CopyN(io.Discard, ra, 100)
		ra.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left behind", n-before)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
