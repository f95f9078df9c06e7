package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileLock is an advisory flock(2) lock. The kernel drops it when the
// process dies, so a crashed ferry never leaves a layout locked.
type fileLock struct{ f *os.File }

// lockFile takes the lock on name inside root. With wait it waits until
// the lock is free or ctx is done; without, it fails at once when another
// process holds it. Errors name the layout, since a user with several
// layouts cannot act on ".ferry/lock" alone.
func lockFile(ctx context.Context, root *os.Root, name string, exclusive, wait bool) (*fileLock, error) {
	for {
		l, err := lockOnce(ctx, root, name, exclusive, wait)
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

func lockOnce(ctx context.Context, root *os.Root, name string, exclusive, wait bool) (*fileLock, error) {
	where := filepath.Join(root.Name(), name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("layout %s: lock %s: %w", root.Name(), where, err)
	}
	// O_NONBLOCK: a FIFO planted in place of the lock file must not hang
	// the open; the type check below then refuses it.
	f, err := root.OpenFile(name, os.O_CREATE|os.O_RDWR|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, lockError(root, where, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%w: not a regular file (%s)", ErrUnsafe, fileType(fi.Mode()))
		}
		return nil, lockError(root, where, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err = flock(f, how|syscall.LOCK_NB)
	if wait && errors.Is(err, syscall.EWOULDBLOCK) {
		if err = waitLock(ctx, f, how); err == errGaveUp {
			// The waiter releases the lock whenever it comes, and closes f.
			return nil, fmt.Errorf("layout %s: gave up waiting for %s, held by another ferry process: %w", root.Name(), where, ctx.Err())
		}
	}
	if err != nil {
		f.Close()
		return nil, lockError(root, where, err)
	}
	// The lock may have come free in the same instant as a signal: nothing
	// may be committed after it, so the signal wins.
	if err := ctx.Err(); err != nil {
		flock(f, syscall.LOCK_UN)
		f.Close()
		return nil, fmt.Errorf("layout %s: lock %s: %w", root.Name(), where, err)
	}
	held, err := f.Stat()
	if err == nil {
		var now os.FileInfo
		if now, err = root.Lstat(name); err == nil && !os.SameFile(held, now) {
			err = errLockMoved
		}
	}
	if err != nil {
		flock(f, syscall.LOCK_UN)
		f.Close()
		if errors.Is(err, fs.ErrNotExist) {
			err = errLockMoved
		}
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// waitLock blocks in flock(2), which the kernel grants in turn (a poller
// would starve behind a process that takes the lock again and again), on
// its own goroutine, so that a cancelled ctx ends the wait at once. On
// cancel it returns errGaveUp and leaves the goroutine to release the
// lock, if it is ever granted, and close f.
func waitLock(ctx context.Context, f *os.File, how int) error {
	done := make(chan error, 1)
	go func() { done <- flock(f, how) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		go func() {
			if <-done == nil {
				flock(f, syscall.LOCK_UN)
			}
			f.Close()
		}()
		return errGaveUp
	}
}

var errGaveUp = errors.New("gave up waiting for the lock")

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockError says which layout could not be locked and, for the usual
// cause, what to do about it.
func lockError(root *os.Root, where string, err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("layout %s: cannot open its lock file %s for writing (%w): every change to a layout, and gc, takes this lock; run as a user who may write to the layout", root.Name(), where, err)
	}
	return fmt.Errorf("layout %s: lock %s: %w", root.Name(), where, err)
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
