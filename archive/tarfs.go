package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// tarFS serves an uncompressed tar file in place: one pass over the headers
// records where each entry's data starts, and every Open is a section of
// the file. Nothing is extracted, so reading a 50 GB archive needs no
// scratch space, and many goroutines can hash blobs at once with ReadAt.
type tarFS struct {
	tree
	f *os.File
}

// positionReader tracks the offset archive/tar has consumed; after Next the
// position is where the entry's data begins. It keeps io.Seeker so tar
// skips entry data with a seek instead of reading it.
type positionReader struct {
	f   *os.File
	pos int64
}

func (p *positionReader) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	p.pos += int64(n)
	return n, err
}

func (p *positionReader) Seek(off int64, whence int) (int64, error) {
	n, err := p.f.Seek(off, whence)
	if err == nil {
		p.pos = n
	}
	return n, err
}

// indexTar reads the headers of the tar in f.
func indexTar(f *os.File, label string) (*tarFS, error) {
	t := &tarFS{tree: newTree(label), f: f}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end := fi.Size()
	pr := &positionReader{f: f}
	err = eachEntry(context.Background(), tar.NewReader(pr), label, func(e *entry) error {
		e.off = pr.pos
		if e.kind == kindFile && e.off+e.size > end {
			return fmt.Errorf("%s: entry %q needs %d bytes but the file ends after %d: the archive is truncated: %w", label, e.name, e.size, end-e.off, io.ErrUnexpectedEOF)
		}
		return t.add(e, t.sameContent)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// eachEntry validates every header of tr and calls fn with the entries
// that carry content; both tar readers share it, so both refuse the same
// hostile headers with the same words.
func eachEntry(ctx context.Context, tr *tar.Reader, label string, fn func(*entry) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: reading tar: %w (is the archive truncated or not a tar?)", label, err)
		}
		e, err := headerEntry(h)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if e == nil {
			continue
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
func (t *tarFS) sameContent(a, b *entry) (bool, error) {
	ra := io.NewSectionReader(t.f, a.off, a.size)
	rb := io.NewSectionReader(t.f, b.off, b.size)
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
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
	return &sectionFile{e: e, SectionReader: io.NewSectionReader(t.f, e.off, e.size)}, nil
}

// sectionFile is a regular entry of an in-place tar.
type sectionFile struct {
	*io.SectionReader
	e *entry
}

func (f *sectionFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *sectionFile) Close() error               { return nil }
