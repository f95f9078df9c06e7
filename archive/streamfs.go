package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// errNotKept is returned when a streamed entry was hashed but not kept: in
// verify mode only small JSON documents are retained.
var errNotKept = errors.New("hashed while streaming and not kept")

// maxRetained bounds the documents a verify of a compressed stream keeps in
// memory. ferry's own archives put them first and they are small; anything
// beyond this is refused rather than allowed to grow memory.
const maxRetained = 48 << 20

// streamFS is a tar read in one pass from a pipe or a compressed file.
// Every file entry is hashed as it passes; a blob whose bytes do not match
// its name is caught there. With a transaction the entries are staged in
// the destination layout (nothing is visible until Commit); without one
// only small JSON documents are kept and everything else is a digest.
type streamFS struct {
	tree
	root     *os.Root
	retained int64
	// problems are entry-level failures found in verify mode, where the
	// read carries on to report everything at once.
	problems []error
}

// readStream reads the whole tar from r. In import mode (txn set) the first
// bad entry aborts; in verify mode it is recorded and reading goes on.
func readStream(ctx context.Context, r io.Reader, label string, txn *layout.Txn) (*streamFS, error) {
	s := &streamFS{tree: newTree(label)}
	if txn != nil {
		s.root = txn.Root()
	}
	tr := tar.NewReader(ctxReader{ctx, r})
	br := bufio.NewReaderSize(nil, 64<<10)
	err := eachEntry(ctx, tr, label, func(e *entry) error {
		if e.kind == kindFile {
			br.Reset(tr)
			if err := s.ingest(ctx, e, br, txn); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
		return s.add(e, func(a, b *entry) (bool, error) { return a.digest == b.digest && a.err == nil && b.err == nil, nil })
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ingest hashes one entry, staging or retaining it.
func (s *streamFS) ingest(ctx context.Context, e *entry, br *bufio.Reader, txn *layout.Txn) error {
	want, isBlob, derr := layout.DigestFromPath(e.name)
	if isBlob && derr != nil {
		if txn != nil {
			return fmt.Errorf("entry %q: %w", e.name, derr)
		}
		e.err = fmt.Errorf("entry %q: %w", e.name, derr)
		s.problems = append(s.problems, e.err)
		_, err := io.Copy(io.Discard, br)
		return err
	}
	if !isBlob {
		want = ""
	}
	head, _ := br.Peek(4)
	var diff *diffHasher
	if c := compressionOf(head); !isBlob && c != None {
		diff = newDiffHasher(c)
		e.comp = c
	}
	var src io.Reader = br
	if diff != nil {
		src = io.TeeReader(br, diff)
	}
	keep := txn == nil && e.size <= layout.MaxManifestSize && looksJSON(head)
	if txn != nil {
		// The tar header gives the size before the first byte: a blob
		// the destination's file system cannot hold is not begun.
		if err := txn.CheckFits(ocispec.Descriptor{Digest: want, Size: e.size}); err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
		if want != "" {
			// What a killed import staged is reused, not written again.
			txn.Adopt(ctx, ocispec.Descriptor{Digest: want, Size: e.size})
		}
		desc, err := txn.Ingest(ctx, src, want)
		if diff != nil {
			e.diffID = diff.finish()
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
		e.digest, e.size = desc.Digest, desc.Size
		e.staged, _ = txn.StagedPath(desc.Digest)
		return nil
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	h := alg.Hash()
	var w io.Writer = h
	var buf *bytes.Buffer
	if keep {
		if s.retained+e.size > maxRetained {
			return fmt.Errorf("entry %q: %w: more than %d MiB of JSON documents in a streamed archive; decompress it and verify the plain .tar, which is read in place", e.name, layout.ErrTooLarge, maxRetained>>20)
		}
		buf = bytes.NewBuffer(nil)
		w = io.MultiWriter(h, buf)
	}
	n, err := layout.CopyBuffer(w, src)
	if diff != nil {
		e.diffID = diff.finish()
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, err)
	}
	e.size = n
	e.digest = digest.NewDigest(alg, h)
	if buf != nil {
		e.data = buf.Bytes()
		s.retained += int64(len(e.data))
	}
	if want != "" && e.digest != want {
		e.err = fmt.Errorf("entry %q: %w", e.name, &layout.MismatchError{Want: want, Got: e.digest})
		s.problems = append(s.problems, e.err)
	}
	return nil
}

// ctxReader ends a stream once ctx is done, so a signal stops the read
// inside one huge entry or a long run of headers, not only between entries.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

func looksJSON(head []byte) bool {
	t := strings.TrimLeft(string(head), " \t\r\n")
	return strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") || len(t) == 0
}

// Open implements fs.FS.
func (s *streamFS) Open(name string) (fs.File, error) {
	e, dir, err := s.openCheck(name)
	if err != nil || dir != nil {
		return dir, err
	}
	switch {
	case e.err != nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: e.err}
	case e.data != nil || e.size == 0:
		return &memFile{e: e, Reader: bytes.NewReader(e.data)}, nil
	case e.staged != "" && s.root != nil:
		return s.root.Open(e.staged)
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: errNotKept}
}

type memFile struct {
	*bytes.Reader
	e *entry
}

func (f *memFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *memFile) Close() error               { return nil }

// diffHasher computes the digest of a compressed entry's decompressed
// content (docker's DiffID) in the same pass that hashes the raw bytes.
type diffHasher struct {
	pw   *io.PipeWriter
	done chan digest.Digest
}

func newDiffHasher(c Compression) *diffHasher {
	pr, pw := io.Pipe()
	d := &diffHasher{pw: pw, done: make(chan digest.Digest, 1)}
	go func() {
		var h hash.Hash = digest.Canonical.Hash()
		zr, err := decompress(pr, c)
		if err == nil {
			_, err = layout.CopyBuffer(h, zr)
			zr.Close()
		}
		if err != nil {
			io.Copy(io.Discard, pr) // keep the main pass flowing
			d.done <- ""
			return
		}
		io.Copy(io.Discard, pr)
		d.done <- digest.NewDigest(digest.Canonical, h)
	}()
	return d
}

func (d *diffHasher) Write(p []byte) (int, error) {
	d.pw.Write(p) // errors surface as an empty DiffID
	return len(p), nil
}

func (d *diffHasher) finish() digest.Digest {
	d.pw.Close()
	return <-d.done
}
