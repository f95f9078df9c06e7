package archive

import (
	"bufio"
	"bytes"
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

// maxZstdWindow caps the decoder window: klauspost would otherwise accept
// frames demanding up to 512 MiB of memory from a hostile archive.
const maxZstdWindow = 64 << 20

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
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow), zstd.WithDecoderConcurrency(0))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
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
