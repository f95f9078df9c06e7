package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// manyEntries writes a tar of n empty files as a stream, so the test
// holds no more of it than ferry's reader asks for.
func manyEntries(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for i := range n {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("a/%07d", i), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

// TestEntriesBounded: every tar entry is remembered until the archive is
// judged, and an empty entry compresses to a few bytes, so a 7 MB .tar.gz
// of 1.2 million of them took 600 MB (and a larger one any amount) before
// being refused for holding no layout. A tar is refused once it passes
// maxEntries, naming the input, before the rest is read.
func TestEntriesBounded(t *testing.T) {
	const n = 300_000 // above the bound, as the test binary was built
	_, err := OpenStream(context.Background(), manyEntries(n), "many.tar.gz", OpenOptions{})
	if !errors.Is(err, layout.ErrTooLarge) {
		t.Fatalf("a tar of %d entries: %v, want %v", n, err, layout.ErrTooLarge)
	}
	t.Log(err)
}
