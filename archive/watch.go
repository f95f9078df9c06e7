package archive

import (
	"io"
	"os"
)

// watch, when set (only by tests), sees how many bytes each read of an
// archive file returned: a resume test counts what a run read from its
// source and kills the process at a chosen byte.
var watch func(n int)

type sourceFile interface {
	io.Reader
	io.ReaderAt
}

type watched struct{ f *os.File }

func (w watched) Read(p []byte) (int, error) {
	n, err := w.f.Read(p)
	watch(n)
	return n, err
}

func (w watched) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.f.ReadAt(p, off)
	watch(n)
	return n, err
}
