package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNotRandomAccess is input that can only be read start to end: a
// compressed archive or volume set, or a pipe. A server answering a
// request for one blob cannot afford to decompress everything in front
// of it, nor hold the decompressed archive anywhere, so OpenInPlace
// refuses such input before reading it rather than after a long pass.
var ErrNotRandomAccess = errors.New("cannot be read in place")

// inPlaceAdvice is what to do instead, for the user.
const inPlaceAdvice = "decompress it to a .tar (gunzip, zstd -d), or `ferry import` it into a layout directory and serve that"

// OpenInPlace opens a layout directory, an uncompressed archive or an
// uncompressed volume set for random access: every blob is a section of a
// file, nothing is staged or extracted, and any number of readers may
// Fetch at once. Anything else fails with ErrNotRandomAccess.
func OpenInPlace(ctx context.Context, path string) (*Source, error) {
	if path == "-" {
		return nil, fmt.Errorf("stdin: %w: a pipe can only be read once; give the archive's path", ErrNotRandomAccess)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.Mode().IsRegular():
		if c, err := compressionOfFile(path); err != nil {
			return nil, err
		} else if c != None {
			return nil, fmt.Errorf("%s: %w: it is %s-compressed; %s", path, ErrNotRandomAccess, c, inPlaceAdvice)
		}
	case fi.IsDir():
		if _, err := os.Stat(filepath.Join(path, ocispec.ImageLayoutFile)); err != nil {
			if vols, err := findVolumes(path, nil); err == nil {
				for _, v := range vols {
					if v.comp != None {
						return nil, fmt.Errorf("%s: %w: it is %s-compressed; %s", v.path, ErrNotRandomAccess, v.comp, inPlaceAdvice)
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("%s: %w: not a regular file or directory", path, ErrNotRandomAccess)
	}
	src, err := Open(ctx, path, OpenOptions{})
	if err != nil {
		return nil, err
	}
	if src.Streamed() {
		src.Close()
		return nil, fmt.Errorf("%s: %w (%s); %s", path, ErrNotRandomAccess, src.Mode, inPlaceAdvice)
	}
	return src, nil
}

func compressionOfFile(path string) (Compression, error) {
	f, err := os.Open(path)
	if err != nil {
		return None, err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return None, fmt.Errorf("%s: %w", path, err)
	}
	return compressionOf(head[:n]), nil
}
