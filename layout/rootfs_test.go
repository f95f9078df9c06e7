package layout_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/layout"
)

// mkfifo plants a FIFO at path and, at cleanup, opens it for writing so
// that an open blocked on it (the bug) returns and the test can end.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// within fails the test if fn does not return in time: a blocked open
// never would.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		t.Fatalf("%s blocked on a FIFO", what)
		return nil
	}
}

// TestRootFSRefusesFIFO: opening a FIFO through a layout's file system
// (as happens when a blob is swapped for one after its path was checked)
// fails at once, naming what the file is, instead of blocking for a
// writer that never comes.
func TestRootFSRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "blob"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	err = within(t, "RootFS.Open", func() error {
		f, err := layout.RootFS(root).Open("blob")
		if err == nil {
			f.Close()
		}
		return err
	})
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "not a regular file (fifo)") {
		t.Fatalf("Open of a FIFO: %v", err)
	}
	// Directories and regular files still open, and the other views work.
	os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
	fsys := layout.RootFS(root)
	if b, err := fs.ReadFile(fsys, "file"); err != nil || string(b) != "x" {
		t.Fatalf("ReadFile: %q %v", b, err)
	}
	if ents, err := fs.ReadDir(fsys, "."); err != nil || len(ents) != 2 {
		t.Fatalf("ReadDir: %v %v", ents, err)
	}
	if fi, err := fs.Lstat(fsys, "blob"); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Fatalf("Lstat: %v %v", fi, err)
	}
}

// TestFIFOBlobIsNotMissing: a FIFO where a blob should be is reported as
// what it is, by Exists and Fetch alike, and promptly.
func TestFIFOBlobIsNotMissing(t *testing.T) {
	d := newDir(t)
	desc := pushBytes(t, d, "application/octet-stream", []byte("some content"))
	p, _ := layout.BlobPath(desc.Digest)
	mkfifo(t, filepath.Join(d.Path(), p))
	err := within(t, "Exists", func() error { _, err := d.Exists(context.Background(), desc); return err })
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "not a regular file (fifo)") || !strings.Contains(err.Error(), desc.Digest.String()) {
		t.Fatalf("Exists of a FIFO blob: %v", err)
	}
	err = within(t, "Fetch", func() error {
		rc, err := d.Fetch(context.Background(), desc)
		if err == nil {
			rc.Close()
		}
		return err
	})
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "not a regular file (fifo)") {
		t.Fatalf("Fetch of a FIFO blob: %v", err)
	}
}

// TestStagedFIFORefused: a staged blob swapped for a FIFO before the
// transaction reads it back fails at once.
func TestStagedFIFORefused(t *testing.T) {
	d := newDir(t)
	txn := d.Begin()
	defer txn.Abort()
	desc := pushBytes(t, txn, "application/octet-stream", []byte("staged content"))
	p, ok := txn.StagedPath(desc.Digest)
	if !ok {
		t.Fatal("not staged")
	}
	mkfifo(t, filepath.Join(d.Path(), p))
	err := within(t, "Txn.Fetch", func() error {
		rc, err := txn.Fetch(context.Background(), desc)
		if err == nil {
			rc.Close()
		}
		return err
	})
	if !errors.Is(err, layout.ErrUnsafe) {
		t.Fatalf("Fetch of a staged FIFO: %v", err)
	}
}

// TestFIFODirectoriesRefused: a FIFO where a layout has a directory
// (blobs/, blobs/sha256, .ferry/tmp) blocked every command that listed it
// in open(2), past SIGTERM: ReadDir went through the blocking file system,
// and gc, verify's leftover check and the clean-up of staging listed
// .ferry/tmp with it. Each must fail or carry on at once.
func TestFIFODirectoriesRefused(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "blobs"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	err = within(t, "RootFS ReadDir", func() error { _, err := fs.ReadDir(layout.RootFS(root), "blobs"); return err })
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "fifo") {
		t.Fatalf("ReadDir of a FIFO: %v", err)
	}

	d := newDir(t)
	pushBytes(t, d, "application/octet-stream", []byte("some content"))
	p := d.Path()
	d.Close()
	stage := filepath.Join(p, ".ferry", "tmp")
	if err := os.RemoveAll(stage); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, stage)
	within(t, "Leftovers", func() error { _, err := layout.Leftovers(p); return err })
	within(t, "gc", func() error {
		d, err := layout.OpenDir(p)
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = d.GC(context.Background(), true)
		return err
	})
}
