package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// seg is one unit of a tar as ferry writes it: the headers (or whole small
// documents) before a streamed blob or chunk, the content, its padding.
// In a compressed archive each segment is its own gzip member or zstd
// frame, which every reader takes as one stream (both formats define a
// concatenation as the concatenated content). The compressor's state dies
// with a killed process, but a member boundary survives it: a killed write
// resumes after the last whole segment (resume.go), and the uninterrupted
// write cuts at the same places, so both give the same bytes.
type seg struct {
	entries []member           // documents and directories, in order, before the content
	blob    ocispec.Descriptor // the streamed blob; no digest: none
	part    *volPart           // a chunk of a split blob instead
	index   []byte             // a volume's index: not compared on resume (completed later)
	trailer bool               // the two zero blocks that end a tar
}

// member is a small document, or a directory, written whole.
type member struct {
	name string
	data []byte
	dir  bool
}

// render gives the bytes before the content, the padding after it, and
// where in the head the index's bytes are (start, length), which a resume
// reads but does not compare.
func (s *seg) render(t time.Time) (head []byte, pad int64, opaque [2]int, err error) {
	var b bytes.Buffer
	if s.index != nil {
		if err := rawHeader(&b, regHeader(volumeIndexName, int64(len(s.index)), t)); err != nil {
			return nil, 0, opaque, err
		}
		opaque = [2]int{b.Len(), len(s.index)}
		b.Write(s.index)
		b.Write(zeros[:padOf(int64(len(s.index)))])
	}
	for _, e := range s.entries {
		if e.dir {
			if err := rawHeader(&b, &tar.Header{Name: e.name, Mode: 0o755, ModTime: t, Typeflag: tar.TypeDir}); err != nil {
				return nil, 0, opaque, err
			}
			continue
		}
		if err := rawHeader(&b, regHeader(e.name, int64(len(e.data)), t)); err != nil {
			return nil, 0, opaque, err
		}
		b.Write(e.data)
		b.Write(zeros[:padOf(int64(len(e.data)))])
	}
	switch {
	case s.part != nil:
		if err := rawHeader(&b, regHeader(s.part.name(), s.part.size, t)); err != nil {
			return nil, 0, opaque, err
		}
		pad = padOf(s.part.size)
	case s.blob.Digest != "":
		if err := rawHeader(&b, regHeader(blobName(s.blob.Digest), s.blob.Size, t)); err != nil {
			return nil, 0, opaque, err
		}
		pad = padOf(s.blob.Size)
	}
	if s.trailer {
		b.Write(zeros[:tarEnd])
	}
	return b.Bytes(), pad, opaque, nil
}

// size is the content's bytes: the blob's or the chunk's.
func (s *seg) size() int64 {
	if s.part != nil {
		return s.part.size
	}
	return s.blob.Size
}

// rawHeader writes the header block(s) archive/tar makes for h, PAX
// records included: the tar writer puts them out at once, so a writer
// of its own per header gives exactly the bytes one writer of the whole
// archive would.
func rawHeader(w io.Writer, h *tar.Header) error {
	return tar.NewWriter(w).WriteHeader(h)
}

var zeros [tarEnd]byte

func padOf(n int64) int64 { return (512 - n%512) % 512 }

// segOut writes segments to one file, each compressed on its own.
type segOut struct {
	w     io.Writer
	reset func(io.Writer) // starts the next member or frame
	zw    io.WriteCloser  // nil for a plain tar
	t     time.Time
}

func newSegOut(w io.Writer, comp Compression) (*segOut, error) {
	o := &segOut{w: w, t: mtime()}
	switch comp {
	case Gzip:
		gw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
		o.zw, o.reset = gw, gw.Reset
	case Zstd:
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, err
		}
		o.zw, o.reset = zw, zw.Reset
	}
	return o, nil
}

// content writes a segment's streamed part into w.
type content func(ctx context.Context, w io.Writer) error

// write puts out one segment: its head, the content fill writes, and the
// padding, as one member of a compressed archive. A failed segment stops
// the compressor before returning: zstd writes its blocks from goroutines
// of its own, and one still in flight would land in the file after the
// caller has cut it back to its last whole segment (keepOrAbort).
func (o *segOut) write(ctx context.Context, s *seg, fill content) error {
	err := o.writeSeg(ctx, s, fill)
	if err != nil && o.zw != nil {
		o.reset(io.Discard) // waits for the blocks in flight to the file
	}
	return err
}

func (o *segOut) writeSeg(ctx context.Context, s *seg, fill content) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	head, pad, _, err := s.render(o.t)
	if err != nil {
		return err
	}
	w := o.w
	if o.zw != nil {
		o.reset(o.w)
		w = o.zw
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if fill != nil {
		cw := &sizeWriter{w: w}
		if err := fill(ctx, cw); err != nil {
			return err
		}
		if cw.n != s.size() {
			return fmt.Errorf("%s: %d bytes written, want %d", s.blob.Digest, cw.n, s.size())
		}
	}
	if _, err := w.Write(zeros[:pad]); err != nil {
		return err
	}
	if o.zw != nil {
		return o.zw.Close()
	}
	return nil
}

type sizeWriter struct {
	w io.Writer
	n int64
}

func (c *sizeWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// blobContent streams a whole blob from src through a VerifyReader: a
// corrupt source fails the archive, never lands in it.
func blobContent(src layout.ReadOnly, d ocispec.Descriptor, progress func(int64)) content {
	return func(ctx context.Context, w io.Writer) error {
		rc, err := src.Fetch(ctx, d)
		if err != nil {
			return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
		}
		// The tar takes one blob at a time, so one stream is all there
		// is: reading, hashing and writing each get a goroutine.
		ra := layout.NewReadAhead(rc, pipelineDepth)
		defer ra.Close()
		vr, err := layout.NewVerifyReader(ra, d)
		if err != nil {
			return err
		}
		if progress != nil {
			w = progressWriter{w, progress}
		}
		if _, err := layout.CopyBehind(w, ctxReader{ctx, vr}, pipelineDepth); err != nil {
			return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
		}
		return nil
	}
}
