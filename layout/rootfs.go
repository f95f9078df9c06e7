package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
)

// RootFS is the file system of a directory layout, for NewFS. It differs
// from root.FS() in one way that matters on hostile input: open(2) of a
// FIFO blocks until a writer appears, forever if none does, and a blocked
// open ignores SIGTERM. So every file is opened with O_NONBLOCK, and what
// was opened (fstat, not the path, which may have been swapped since it
// was checked) must be a regular file or a directory.
func RootFS(root *os.Root) fs.FS { return rootFS{root: root, fsys: root.FS()} }

type rootFS struct {
	root *os.Root
	fsys fs.FS
}

var (
	_ fs.StatFS     = rootFS{}
	_ fs.ReadDirFS  = rootFS{}
	_ fs.ReadLinkFS = rootFS{}
)

func (r rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, err := r.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() && !m.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: not a regular file (%s)", ErrUnsafe, fileType(m))}
	}
	return f, nil
}

func (r rootFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(r.fsys, name) }

// ReadDir opens the directory as Open does, so a FIFO put where a
// directory belongs is refused instead of waited on.
func (r rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, ok := f.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not implemented")}
	}
	ents, err := d.ReadDir(-1)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, err
}

func (r rootFS) ReadLink(name string) (string, error) { return fs.ReadLink(r.fsys, name) }

func (r rootFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(r.fsys, name) }
