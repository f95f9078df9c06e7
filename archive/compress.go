package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of a whole archive, detected from its first bytes rather than
// its file name, so a renamed or piped archive still opens.
type Compression int

const (
	None Compression = iota // a plain tar, read in place when it is a file
	Gzip                    // gzip: the most portable, what docker save | gzip gives
	Zstd                    // zstd: fast on many cores, what ferry recommends for big archives
)

// String names the compression as the CLI prints it.
func (c Compression) String() string {
	return [...]string{"none", "gzip", "zstd"}[c]
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// detect peeks at the first bytes of r.
func detect(r *bufio.Reader) Compression {
	b, _ := r.Peek(4)
	return compressionOf(b)
}

// compressionOf reads the magic number at the start of head.
func compressionOf(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return None
}

// maxZstdWindow caps the decoder window, which is the memory a zstd stream
// makes its reader hold (klauspost would grant a hostile frame 512 MiB).
// 128 MiB (windowLog 27) is what plain `zstd --long` and the strongest
// levels (--ultra -22) write, so every archive zstd makes without an
// explicit --long=28 or more opens; beyond it the stream is refused with
// what to do, never with a guess.
const maxZstdWindow = 128 << 20

// decompress returns a reader of the decompressed stream.
func decompress(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		if br, ok := r.(*bufio.Reader); ok {
			if err := checkZstdWindow(br); err != nil {
				return nil, err
			}
		}
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow), zstd.WithDecoderConcurrency(0))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zstdReader{zr.IOReadCloser()}, nil
	}
	return io.NopCloser(r), nil
}

// windowError is a zstd frame that needs more window than maxZstdWindow.
// Size is what the first frame asks for, 0 when a later frame asked.
type windowError struct{ size uint64 }

func (e *windowError) Error() string {
	need := fmt.Sprintf("more than %d MiB", maxZstdWindow>>20)
	if e.size > 0 {
		need = fmt.Sprintf("%d MiB", (e.size+(1<<20)-1)>>20)
	}
	return fmt.Sprintf("zstd: the stream needs %s of memory as its decoding window (it was compressed with zstd --long=28 or more) and ferry allows %d MiB: "+
		"recompress it with zstd --long=27 or less, or decompress it first (zstd -d --long=31) and give ferry the .tar, which is read in place",
		need, maxZstdWindow>>20)
}

// checkZstdWindow reads the window the first frame asks for, so the
// refusal can say how much it is.
func checkZstdWindow(br *bufio.Reader) error {
	head, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil {
		return nil // the decoder will say what is wrong
	}
	w := h.WindowSize
	if h.SingleSegment {
		w = h.FrameContentSize
	}
	if w > maxZstdWindow {
		return &windowError{size: w}
	}
	return nil
}

// zstdReader turns the decoder's window refusals, which klauspost words as
// a size limit, into windowError.
type zstdReader struct{ io.ReadCloser }

func (z zstdReader) Read(b []byte) (int, error) {
	n, err := z.ReadCloser.Read(b)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		err = &windowError{}
	}
	return n, err
}

// CompressionFor picks the output compression from a file name: ferry
// writes .tar.gz/.tgz as gzip, .tar.zst/.tzst as zstd, anything else plain.
func CompressionFor(name string) Compression {
	for _, s := range []struct {
		suffix string
		c      Compression
	}{{".tar.gz", Gzip}, {".tgz", Gzip}, {".tar.zst", Zstd}, {".tzst", Zstd}, {".tar.zstd", Zstd}} {
		if len(name) >= len(s.suffix) && name[len(name)-len(s.suffix):] == s.suffix {
			return s.c
		}
	}
	return None
}
