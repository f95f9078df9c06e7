package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// fileLock is an advisory flock(2) lock. The kernel drops it when the
// process dies, so a crashed ferry never leaves a layout locked.
type fileLock struct{ f *os.File }

func lockFile(root *os.Root, name string, exclusive, wait bool) (*fileLock, error) {
	for {
		l, err := lockOnce(root, name, exclusive, wait)
		if err != errLockMoved {
			return l, err
		}
	}
}

// errLockMoved means the lock file was removed or replaced while we waited
// for it: its holder (a gc dropping a dead session, an Undo dropping the
// layout) deletes it before releasing it, so the lock we got guards
// nothing and the caller must lock the file now at that path instead.
var errLockMoved = errors.New("lock file replaced")

func lockOnce(root *os.Root, name string, exclusive, wait bool) (*fileLock, error) {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	held, err := f.Stat()
	if err == nil {
		var now os.FileInfo
		if now, err = root.Lstat(name); err == nil && !os.SameFile(held, now) {
			err = errLockMoved
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, fs.ErrNotExist) {
			err = errLockMoved
		}
		return nil, err
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
