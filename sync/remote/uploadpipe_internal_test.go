package remote

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// stalledSource gives its first bytes, then blocks until closed, as a
// registry that stopped sending mid-blob does until its idle timeout.
type stalledSource struct {
	first  []byte
	closed chan struct{}
}

func (s *stalledSource) Read(b []byte) (int, error) {
	if len(s.first) > 0 {
		n := copy(b, s.first)
		s.first = s.first[n:]
		return n, nil
	}
	<-s.closed
	return 0, io.ErrClosedPipe
}

// TestPipeCloseDoesNotWaitForStalledSource: a push whose destination
// failed closes its pipe while the producer is stuck in a read of a
// stalled source; close returns at once, and the producer ends once the
// source is closed, as the caller does next.
func TestPipeCloseDoesNotWaitForStalledSource(t *testing.T) {
	blob := bytes.Repeat([]byte("x"), 4<<20)
	d := ocispec.Descriptor{Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	src := &stalledSource{first: blob[:300<<10], closed: make(chan struct{})} // the second buffer waits in a read
	rd, err := layout.NewVerifyReader(src, d)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(rd, d.Size)
	if _, err := p.take(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.close()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("close waited %v for a producer stuck on a stalled source", took)
	}
	close(src.closed) // the caller closes the source
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the producer did not end once its source was closed")
	}
}
