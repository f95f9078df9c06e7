package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
	// The bound itself, through eachEntry's reader, which the in-place
	// index and the stream reader both call, at a size that keeps the
	// test quick under the race detector.
	const limit = 1000
	seen := 0
	err := eachEntryUpTo(context.Background(), tar.NewReader(manyEntries(limit+500)), "many.tar", limit, func(*entry) error { seen++; return nil })
	if !errors.Is(err, layout.ErrTooLarge) || seen > limit {
		t.Fatalf("a tar of %d entries with a bound of %d: %v after %d entries, want %v by entry %d", limit+500, limit, err, seen, layout.ErrTooLarge, limit)
	}
	if !strings.Contains(err.Error(), "many.tar") {
		t.Fatalf("the refusal does not name the input: %v", err)
	}
}
