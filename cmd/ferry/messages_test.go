package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestFIFOBlobMessages: a FIFO in place of a layer is named as a FIFO by
// verify and import (not "missing"), and neither hangs on it.
func TestFIFOBlobMessages(t *testing.T) {
	set := testimage.New(t)
	p := set.BlobFile(set.Single.Layer)
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // unblock the bug's open, if any, so the test ends
		if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	for _, args := range [][]string{
		{"verify", set.Dir},
		{"import", set.Dir, "--into", filepath.Join(t.TempDir(), "dst")},
	} {
		start := time.Now()
		code, out, errs := ferry(t, args...)
		if code != exitFailed || !strings.Contains(out+errs, "not a regular file (fifo)") || strings.Contains(out+errs, "missing") {
			t.Errorf("ferry %s with a FIFO layer: exit %d\n%s%s", args[0], code, out, errs)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("ferry %s took %v", args[0], d)
		}
	}
}
