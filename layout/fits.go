package layout

import (
	"fmt"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fileLimit is what a layout's file system allows one file: a blob is one
// file in a layout, so on FAT32 (4 GiB − 1) a larger blob cannot be kept
// there at all, and a driver like fusefat would cut it at 4 GiB without
// an error. Detected once per handle: the mount does not change under an
// open layout, and the mount table is not read again per blob.
type fileLimit struct {
	once sync.Once
	fs   FileSystem
	max  int64
	// detect, if set, replaces the look at the file system: tests give a
	// FAT limit small enough to exceed with real blobs.
	detect func(dir string) (FileSystem, int64)
}

func (d *Dir) limit() (FileSystem, int64) {
	l := &d.fits
	l.once.Do(func() {
		if l.detect != nil {
			l.fs, l.max = l.detect(d.path)
			return
		}
		l.fs = DetectFS(d.path)
		l.max = l.fs.MaxFile()
	})
	return l.fs, l.max
}

// CheckFits refuses, before its first byte, a blob larger than the
// layout's file system holds in one file, with the way out: an archive
// cut into volumes that fit.
func (d *Dir) CheckFits(b ocispec.Descriptor) error {
	fs, max := d.limit()
	if max == 0 || b.Size <= max {
		return nil
	}
	return &NoFitError{Desc: b, msg: fmt.Sprintf("blob %s is %d bytes, and %s is on %s, which holds no file larger than %d bytes (4 GiB − 1): %v; a layout keeps every blob as one file, so write an archive cut to fit instead (--to FILE.tar --volume-size fat32)",
		b.Digest, b.Size, d.path, fs, max, ErrTooLarge)}
}

// NoFitError is a blob too large for the layout's file system (CheckFits);
// Desc lets the caller name the images that need it.
type NoFitError struct {
	Desc ocispec.Descriptor
	msg  string
}

func (e *NoFitError) Error() string { return e.msg }
func (e *NoFitError) Unwrap() error { return ErrTooLarge }

// CheckFits is Dir.CheckFits for the transaction's layout.
func (t *Txn) CheckFits(b ocispec.Descriptor) error { return t.d.CheckFits(b) }
