package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/layout"
)

// countingReaderAt counts the bytes read through it and calls hook (once)
// when the count passes at.
type countingReaderAt struct {
	r    io.ReaderAt
	n    atomic.Int64
	at   int64
	hook func()
}

func (c *countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	if c.n.Add(int64(n)) > c.at && c.hook != nil {
		c.hook()
		c.hook = nil
	}
	return n, err
}

type countingReader struct {
	r    io.Reader
	n    int64
	at   int64
	hook func()
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if c.n += int64(n); c.n > c.at && c.hook != nil {
		c.hook()
		c.hook = nil
	}
	return n, err
}

// tarOf writes regular files named names, each with body.
func tarOf(t *testing.T, names []string, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return b.Bytes()
}

// The hostile tester's archive: one entry whose name has 100,000
// components, then many ordinary entries. Both readers must refuse it at
// that first entry, having read no further than its header: the work is
// bounded by the caps, not by the size of the name (35 s before) or by
// what follows it.
func TestDeepNameRefusedAtFirstEntry(t *testing.T) {
	deep := strings.Repeat("a/", 100_000) + "x"
	rest := make([]string, 2000)
	for i := range rest {
		rest[i] = fmt.Sprintf("junk/%d", i)
	}
	first := tarOf(t, []string{deep}, []byte("x"))
	data := tarOf(t, append([]string{deep}, rest...), bytes.Repeat([]byte("y"), 1))
	limit := int64(len(first)) // the first entry, headers and data
	ctx := context.Background()

	cr := &countingReaderAt{r: bytes.NewReader(data)}
	_, err := indexTar(ctx, cr, int64(len(data)), "deep.tar")
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "longer than 4096 bytes") || !strings.Contains(err.Error(), "deep.tar") {
		t.Fatalf("in place: %v", err)
	}
	if n := cr.n.Load(); n > limit {
		t.Fatalf("in place read %d bytes before refusing, the first entry is %d", n, limit)
	}

	sr := &countingReader{r: bytes.NewReader(data)}
	_, err = readStream(ctx, sr, "deep.tar.gz", nil)
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "longer than 4096 bytes") {
		t.Fatalf("streamed: %v", err)
	}
	if sr.n > limit {
		t.Fatalf("stream read %d bytes before refusing, the first entry is %d", sr.n, limit)
	}
}

// At the caps names are accepted, and one byte or level over they are
// refused, the same by both readers.
func TestNameCaps(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("n", maxNameBytes-2) + "/x"
	deep := strings.Repeat("d/", maxNameDepth-1) + "x"
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{long, true}, {"n" + long, false},
		{deep, true}, {"d/" + deep, false},
	} {
		data := tarOf(t, []string{c.name}, []byte("x"))
		_, err1 := indexTar(ctx, bytes.NewReader(data), int64(len(data)), "a.tar")
		_, err2 := readStream(ctx, bytes.NewReader(data), "a.tar", nil)
		for _, err := range []error{err1, err2} {
			if (err == nil) != c.ok {
				t.Errorf("%d bytes, %d levels: ok=%v, got %v", len(c.name), strings.Count(c.name, "/")+1, c.ok, err)
			}
		}
	}
}

// An entry below a link or a file would be written through it by an
// extractor; both readers refuse it, whichever order the two come in.
func TestEntryUnderNonDirectory(t *testing.T) {
	ctx := context.Background()
	for _, ents := range [][]*tar.Header{
		{{Name: "blobs/sha256/esc", Typeflag: tar.TypeSymlink, Linkname: "../.."}, {Name: "blobs/sha256/esc/x", Typeflag: tar.TypeReg}},
		{{Name: "blobs/sha256/esc/x", Typeflag: tar.TypeReg}, {Name: "blobs/sha256/esc", Typeflag: tar.TypeSymlink, Linkname: "../.."}},
		{{Name: "index.json", Typeflag: tar.TypeReg}, {Name: "index.json/x", Typeflag: tar.TypeReg}},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range ents {
			h.Mode = 0o644
			tw.WriteHeader(h)
		}
		tw.Close()
		data := b.Bytes()
		_, err1 := indexTar(ctx, bytes.NewReader(data), int64(len(data)), "a.tar")
		_, err2 := readStream(ctx, bytes.NewReader(data), "a.tar", nil)
		parent := min(ents[0].Name, ents[1].Name)
		for _, err := range []error{err1, err2} {
			if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), fmt.Sprintf("%q", parent)) || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("%s then %s: %v", ents[0].Name, ents[1].Name, err)
			}
		}
	}
}

// A cancelled context stops the indexing of a large tar between entries,
// in place and streamed, having read little past the point of the signal.
func TestIndexStopsWhenCancelled(t *testing.T) {
	names := make([]string, 20_000)
	for i := range names {
		names[i] = fmt.Sprintf("f/%d", i)
	}
	data := tarOf(t, names, []byte("z"))
	const at = 64 << 10
	const slack = 64 << 10 // one read of the stream's buffer

	ctx, cancel := context.WithCancel(context.Background())
	cr := &countingReaderAt{r: bytes.NewReader(data), at: at, hook: cancel}
	_, err := indexTar(ctx, cr, int64(len(data)), "big.tar")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("in place: %v", err)
	}
	if n := cr.n.Load(); n > at+slack || n >= int64(len(data)) {
		t.Fatalf("in place read %d of %d bytes after a cancel at %d", n, len(data), at)
	}

	ctx, cancel = context.WithCancel(context.Background())
	sr := &countingReader{r: bytes.NewReader(data), at: at, hook: cancel}
	_, err = readStream(ctx, sr, "big.tar.gz", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("streamed: %v", err)
	}
	if sr.n > at+slack {
		t.Fatalf("stream read %d of %d bytes after a cancel at %d", sr.n, len(data), at)
	}
}

// The in-place reader needs only an io.ReaderAt and a size: an archive
// held in memory, with bytes after its end that are no part of it, opens
// and every blob verifies, and nothing past size is read.
func TestIndexTarOnReaderAt(t *testing.T) {
	ctx := context.Background()
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var p string
	for _, f := range fx {
		if f.Name == "ferry-archive" {
			p = f.Path
		}
	}
	archive, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(archive))
	r := pastEnd{bytes.NewReader(append(archive, bytes.Repeat([]byte{0xff}, 4096)...)), size, t}
	tfs, err := indexTar(ctx, r, size, filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{}
	if err := src.load(ctx, layout.NewFS(tfs, p), hashMember); err != nil {
		t.Fatal(err)
	}
	blobs, err := src.Blobs(ctx)
	if err != nil || len(blobs) == 0 || len(src.Images) != 1 {
		t.Fatalf("%d blobs, %d images (%v)", len(blobs), len(src.Images), err)
	}
	for _, b := range blobs {
		if err := src.Check(ctx, ociDesc(b)); err != nil {
			t.Error(err)
		}
	}
}

// pastEnd fails the test on any read beyond size.
type pastEnd struct {
	r    io.ReaderAt
	size int64
	t    *testing.T
}

func (p pastEnd) ReadAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > p.size {
		p.t.Errorf("read of [%d, %d) past the end %d", off, off+int64(len(b)), p.size)
	}
	return p.r.ReadAt(b, off)
}

func ociDesc(b layout.BlobInfo) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: b.Digest, Size: b.Size}
}

// Hashing a blob of an in-place archive stops with the context too, not
// only the indexing: a signal during verify of a 50 GB layer is prompt.
func TestCheckStopsWhenCancelled(t *testing.T) {
	a := ferryArchive(t)
	tfs, err := indexTar(context.Background(), bytes.NewReader(a), int64(len(a)), "a.tar")
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{}
	if err := src.load(context.Background(), layout.NewFS(tfs, "a.tar"), hashMember); err != nil {
		t.Fatal(err)
	}
	blobs, _ := src.Blobs(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, b := range blobs {
		if err := src.Check(ctx, ociDesc(b)); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v", b.Path, err)
		}
	}
}
