package layout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/oci-ferry/ferry/layout"
)

// makeUnwritable makes path refuse opens for writing, also to root (who
// ignores mode bits): the immutable attribute does that on ext4 and xfs.
func makeUnwritable(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		return
	}
	const fsIocSetflags, fsImmutableFl = 0x40086602, 0x10
	set := func(flags int32) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocSetflags, uintptr(unsafe.Pointer(&flags))); e != 0 {
			return e
		}
		return nil
	}
	if err := set(fsImmutableFl); err != nil {
		t.Skipf("cannot make %s unwritable as root: %v", path, err)
	}
	t.Cleanup(func() { set(0) })
}

// TestLockErrorNamesLayout: a lock file ferry may not write to is an
// error that names the layout and says what to do, not "openat
// .ferry/lock: permission denied".
func TestLockErrorNamesLayout(t *testing.T) {
	d := newDir(t)
	lock := filepath.Join(d.Path(), ".ferry", "lock")
	makeUnwritable(t, lock)
	err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) { return ims, nil })
	if err == nil || !strings.Contains(err.Error(), "layout "+d.Path()+":") || !strings.Contains(err.Error(), lock) || !strings.Contains(err.Error(), "may write to the layout") {
		t.Fatalf("UpdateIndex with a read-only lock file: %v", err)
	}
}

// TestLockWaitCancelled: a cancelled context ends the wait for a lock held
// elsewhere, and the update does not run.
func TestLockWaitCancelled(t *testing.T) {
	d := newDir(t)
	f, err := os.OpenFile(filepath.Join(d.Path(), ".ferry", "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// flock locks belong to the open file description, so this one
	// conflicts with the layout's own open of the same file.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	ran := false
	err = d.UpdateIndex(ctx, func(ims []layout.Image) ([]layout.Image, error) { ran = true; return ims, nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran || !strings.Contains(err.Error(), d.Path()) {
		t.Fatalf("UpdateIndex while the lock is held: ran=%v, %v", ran, err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("the wait took %v after its context ended", time.Since(start))
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) { return ims, nil }); err != nil {
		t.Fatalf("after the lock was freed: %v", err)
	}
}

// TestLockFIFORefused: a FIFO planted as the lock file is refused at once
// rather than opened and waited on.
func TestLockFIFORefused(t *testing.T) {
	d := newDir(t)
	lock := filepath.Join(d.Path(), ".ferry", "lock")
	os.Remove(lock)
	if err := syscall.Mkfifo(lock, 0o644); err != nil {
		t.Fatal(err)
	}
	err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) { return ims, nil })
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "fifo") {
		t.Fatalf("UpdateIndex with a FIFO lock: %v", err)
	}
}
