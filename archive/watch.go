package archive

import (
	"io"
	"os"
)

// A watch (OpenOptions.watch, ImportOptions.watch: only tests set one)
// sees how many bytes each read of an archive file returned: a resume
// test counts what a run read from its source and kills the process at a
// chosen byte. It travels with the options, not in a package variable,
// so concurrent opens never see another's watch.

type sourceFile interface {
	io.Reader
	io.ReaderAt
}

type watched struct {
	f     *os.File
	watch func(n int)
}

func (w watched) Read(p []byte) (int, error) {
	n, err := w.f.Read(p)
	w.watch(n)
	return n, err
}

func (w watched) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.f.ReadAt(p, off)
	w.watch(n)
	return n, err
}
