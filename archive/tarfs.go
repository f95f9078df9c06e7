package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/oci-ferry/ferry/layout"
)

// tarFS serves an uncompressed tar in place: one pass over the headers
// records where each entry's data starts, and every Open is a section of
// it. Nothing is extracted, so reading a 50 GB archive needs no scratch
// space, and many goroutines can hash blobs at once with ReadAt. It needs
// only an io.ReaderAt and a size, so a file, the volumes of a split
// archive or a range server can stand behind it alike.
type tarFS struct {
	tree
	r    io.ReaderAt
	size int64
}

// positionReader reads r from pos on and tracks the offset archive/tar has
// consumed; after Next the position is where the entry's data begins. It
// is an io.Seeker so tar skips entry data by moving pos instead of reading
// it, and it never reads past size, so bytes appended to a file while it
// is indexed are not taken for part of it.
type positionReader struct {
	r    io.ReaderAt
	pos  int64
	size int64
}

func (p *positionReader) Read(b []byte) (int, error) {
	if p.pos >= p.size {
		return 0, io.EOF
	}
	if rest := p.size - p.pos; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := p.r.ReadAt(b, p.pos)
	p.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (p *positionReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += p.pos
	case io.SeekEnd:
		off += p.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if off < 0 {
		return 0, errors.New("seek: negative position")
	}
	p.pos = off
	return off, nil
}

// indexTar reads the headers of the tar of size bytes in r. It stops, with
// ctx's error, between any two entries once ctx is done: a tar of a million
// entries is as interruptible as a small one. With an error it still
// returns the entries read whole before it: what a cut volume still holds
// tells which blob it lost (volume_cut.go).
func indexTar(ctx context.Context, r io.ReaderAt, size int64, label string) (*tarFS, error) {
	t := &tarFS{tree: newTree(label), r: r, size: size}
	pr := &positionReader{r: r, size: size}
	err := eachEntry(ctx, tar.NewReader(pr), label, func(e *entry) error {
		e.off = pr.pos
		if e.kind == kindFile && e.off+e.size > size {
			return fmt.Errorf("%s: entry %q needs %d bytes but the file ends after %d: the archive is truncated: %w", label, e.name, e.size, size-e.off, io.ErrUnexpectedEOF)
		}
		return t.add(e, func(a, b *entry) (bool, error) { return t.sameContent(ctx, a, b) })
	})
	return t, err
}

// maxEntries bounds the entries of one tar. Every entry is remembered
// until the archive is judged, and tar headers compress to a few bytes
// each: without a bound, a 7 MB .tar.gz of empty entries took 600 MB and
// a larger one any amount. Image archives hold a few entries per blob, so
// even a bundle of thousands of images stays far below.
const maxEntries = 1 << 18

// eachEntry validates every header of tr and calls fn with the entries
// that carry content; both tar readers share it, so both refuse the same
// hostile headers with the same words.
func eachEntry(ctx context.Context, tr *tar.Reader, label string, fn func(*entry) error) error {
	return eachEntryUpTo(ctx, tr, label, maxEntries, fn)
}

// eachEntryUpTo is eachEntry with the bound on entries given.
func eachEntryUpTo(ctx context.Context, tr *tar.Reader, label string, limit int, fn func(*entry) error) error {
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("%s: %w", label, cerr)
			}
			if we := (*windowError)(nil); errors.As(err, &we) {
				return fmt.Errorf("%s: %w", label, err) // not truncated: say what it is
			}
			return fmt.Errorf("%s: reading tar: %w (is the archive truncated or not a tar?)", label, err)
		}
		e, err := headerEntry(h)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if e == nil {
			continue
		}
		if n++; n > limit {
			return fmt.Errorf("%s: tar entry %q: %w: more than %d entries; no image archive holds that many", label, e.name, layout.ErrTooLarge, limit)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// headerEntry validates a header and returns the entry it describes, or
// nil for headers that carry no content (the root, pax globals).
func headerEntry(h *tar.Header) (*entry, error) {
	k, err := kindOf(h)
	if err != nil || k == kindSkip {
		return nil, err
	}
	name, err := cleanName(h.Name)
	if err != nil || name == "." {
		return nil, err
	}
	if h.Size < 0 {
		return nil, fmt.Errorf("tar entry %q: negative size", h.Name)
	}
	e := &entry{name: name, kind: k, link: h.Linkname}
	if k == kindFile {
		e.size = h.Size
	}
	return e, nil
}

// sameContent compares two entries byte by byte.
func (t *tarFS) sameContent(ctx context.Context, a, b *entry) (bool, error) {
	ra := io.NewSectionReader(t.r, a.off, a.size)
	rb := io.NewSectionReader(t.r, b.off, b.size)
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		na, ea := io.ReadFull(ra, ba)
		nb, _ := io.ReadFull(rb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return true, nil
		}
		if ea != nil {
			return false, ea
		}
	}
}

// Open implements fs.FS.
func (t *tarFS) Open(name string) (fs.File, error) {
	e, dir, err := t.openCheck(name)
	if err != nil || dir != nil {
		return dir, err
	}
	return &sectionFile{e: e, SectionReader: io.NewSectionReader(t.r, e.off, e.size)}, nil
}

// sectionFile is a regular entry of an in-place tar.
type sectionFile struct {
	*io.SectionReader
	e *entry
}

func (f *sectionFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *sectionFile) Close() error               { return nil }
