package layout

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"sync/atomic"
)

// heldDirs are the two directories every blob of a pull or import passes
// through, this session's staging directory and blobs/sha256, held open
// for the life of the handle. Each os.Root operation on a path like
// .ferry/tmp/s-…/b-… or blobs/sha256/… opens and closes every directory
// on the way (that is how it refuses symlinks out of the layout): a
// thousand small images made 21 openat(2) calls a blob, most of an
// import's CPU (docs/SCALE.md). Opened once, each through the layout's
// root so they are the layout's own directories, a blob then costs one
// open (its temp file) and a rename between the two directory handles.
// Names used against them are single components, so nothing is resolved
// through a symlink planted later.
type heldDirs struct {
	ready atomic.Bool
	sess  *os.Root // d.sess
	sessF *os.File
	blobs *os.Root // blobs/sha256
	blobF *os.File
}

const heldBlobDir = "blobs/sha256"

// holdDirs opens the session's directory and blobs/sha256 once the
// session exists. Failing to is not an error: every operation then takes
// the layout root's path walk, as before.
func (d *Dir) holdDirs() {
	h := &d.held
	if err := d.root.MkdirAll(heldBlobDir, 0o755); err != nil {
		return
	}
	var err error
	if h.sess, err = d.root.OpenRoot(d.sess); err != nil {
		return
	}
	if h.sessF, err = h.sess.Open("."); err != nil {
		h.close()
		return
	}
	if h.blobs, err = d.root.OpenRoot(heldBlobDir); err != nil {
		h.close()
		return
	}
	if h.blobF, err = h.blobs.Open("."); err != nil {
		h.close()
		return
	}
	h.ready.Store(true)
}

func (h *heldDirs) close() {
	h.ready.Store(false)
	for _, f := range []*os.File{h.sessF, h.blobF} {
		if f != nil {
			f.Close()
		}
	}
	for _, r := range []*os.Root{h.sess, h.blobs} {
		if r != nil {
			r.Close()
		}
	}
	h.sess, h.sessF, h.blobs, h.blobF = nil, nil, nil, nil
}

// inBlobs returns name's file name if name (relative to the layout) is in
// blobs/sha256 and the directory is held.
func (d *Dir) inBlobs(name string) (string, bool) {
	if !d.held.ready.Load() || path.Dir(name) != heldBlobDir {
		return "", false
	}
	return path.Base(name), true
}

// inSession is inBlobs for this session's staging directory.
func (d *Dir) inSession(name string) (string, bool) {
	if !d.held.ready.Load() || path.Dir(name) != d.sess {
		return "", false
	}
	return path.Base(name), true
}

// lstat is root.Lstat, through the held directory when name is in one.
func (d *Dir) lstat(name string) (fs.FileInfo, error) {
	if b, ok := d.inBlobs(name); ok {
		fi, err := d.held.blobs.Lstat(b)
		return fi, fullPath(err, name)
	}
	if b, ok := d.inSession(name); ok {
		fi, err := d.held.sess.Lstat(b)
		return fi, fullPath(err, name)
	}
	return d.root.Lstat(name)
}

// open is RootFS's Open (no FIFO waited on, only regular files and
// directories), through the held blob directory when name is in it.
func (d *Dir) open(name string) (fs.File, error) {
	if b, ok := d.inBlobs(name); ok {
		f, err := RootFS(d.held.blobs).Open(b)
		return f, fullPath(err, name)
	}
	return d.FS.fsys.Open(name)
}

// remove is root.Remove, through the held directory when name is in one.
func (d *Dir) remove(name string) error {
	if b, ok := d.inSession(name); ok {
		return fullPath(d.held.sess.Remove(b), name)
	}
	if b, ok := d.inBlobs(name); ok {
		return fullPath(d.held.blobs.Remove(b), name)
	}
	return d.root.Remove(name)
}

// fullPath names the file in err by its path in the layout, as the root's
// own operations do, not by its name in the held directory.
func fullPath(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}

// stage is Stage in this session's staging directory; the Staged's Name
// is relative to the layout all the same.
func (d *Dir) stage(prefix string) (*Staged, error) {
	sess, err := d.session()
	if err != nil {
		return nil, err
	}
	if !d.held.ready.Load() {
		return Stage(d.root, sess, prefix)
	}
	st, err := Stage(d.held.sess, ".", prefix)
	if err != nil {
		return nil, err
	}
	st.dir = sess
	return st, nil
}

// rename moves the staged file tmp to target (both relative to the
// layout), creating target's directory if needed: one renameat(2) between
// the held directories when it can, the root's path walks otherwise.
func (d *Dir) rename(tmp, target string) error {
	from, ok1 := d.inSession(tmp)
	to, ok2 := d.inBlobs(target)
	if ok1 && ok2 {
		err := renameAt(d.held.sessF, from, d.held.blobF, to)
		if err != errNoRenameAt {
			if err != nil {
				return &os.LinkError{Op: "rename", Old: tmp, New: target, Err: err}
			}
			return nil
		}
	}
	if err := d.root.MkdirAll(path.Dir(target), 0o755); err != nil {
		return err
	}
	return d.root.Rename(tmp, target)
}
