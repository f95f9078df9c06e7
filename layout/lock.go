package layout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// fileLock is an advisory flock(2) lock. The kernel drops it when the
// process dies, so a crashed ferry never leaves a layout locked.
type fileLock struct{ f *os.File }

// Polling bounds for a lock held by another process. A blocking flock
// cannot be interrupted by a cancelled context (only by a signal the Go
// runtime would have to aim at that thread), so ferry polls instead: the
// first retries are quick for the usual short commit, later ones back off
// to keep an idle wait cheap, and a signal is seen within lockPollMax.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 50 * time.Millisecond
)

// lockFile takes the lock on name inside root. With wait it retries until
// the lock is free or ctx is done; without, it fails at once when another
// process holds it. Errors name the layout, since a user with several
// layouts cannot act on ".ferry/lock" alone.
func lockFile(ctx context.Context, root *os.Root, name string, exclusive, wait bool) (*fileLock, error) {
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
	delay := lockPollMin
	var timer *time.Timer
	for {
		err = flock(f, how|syscall.LOCK_NB)
		if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) || !wait {
			break
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("layout %s: gave up waiting for %s, held by another ferry process: %w", root.Name(), where, ctx.Err())
		case <-timer.C:
		}
		delay = min(2*delay, lockPollMax)
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
	return &fileLock{f: f}, nil
}

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
