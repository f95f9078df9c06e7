package archive

import (
	"archive/tar"
	"io"
	"time"
)

// tarOut is one tar being written, compressed whole if asked: a single
// archive or one volume of a set. Every header ferry writes is fixed (mode,
// owner, the one mtime), so the same content always gives the same bytes,
// and both writers share these few lines so they cannot drift apart.
type tarOut struct {
	tw *tar.Writer
	zw io.WriteCloser // nil for a plain tar
	t  time.Time
}

func newTarOut(w io.Writer, comp Compression) (*tarOut, error) {
	zw, err := compressor(w, comp)
	if err != nil {
		return nil, err
	}
	out := w
	if zw != nil {
		out = zw
	}
	return &tarOut{tw: tar.NewWriter(out), zw: zw, t: mtime()}, nil
}

// file writes a small document held in memory.
func (o *tarOut) file(name string, b []byte) error {
	if err := o.tw.WriteHeader(regHeader(name, int64(len(b)), o.t)); err != nil {
		return err
	}
	_, err := o.tw.Write(b)
	return err
}

func (o *tarOut) dir(name string) error {
	return o.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, ModTime: o.t, Typeflag: tar.TypeDir})
}

// close ends the tar, then the compressed stream around it.
func (o *tarOut) close() error {
	if err := o.tw.Close(); err != nil {
		return err
	}
	if o.zw != nil {
		return o.zw.Close()
	}
	return nil
}
