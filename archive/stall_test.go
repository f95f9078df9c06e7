package archive

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStreamStalledStopsOnCancel: an archive on stdin whose writer stalls
// (an ssh pipe that hangs, a producer that waits) left ferry blocked in
// read(2) after SIGINT/SIGTERM until the writer went away: the context was
// only checked between reads. A cancel must end the read at once.
func TestStreamStalledStopsOnCancel(t *testing.T) {
	b := ferryArchive(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	// Half the archive, then nothing: the writer stays open.
	go pw.Write(b[:len(b)/2])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		src, err := OpenStream(ctx, pr, "stdin", OpenOptions{})
		if err == nil {
			src.Close()
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("stalled stream after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a cancel did not stop a read from a stalled stream")
	}
}

// TestFIFOWithoutWriterStopsOnCancel: an archive named by a FIFO whose
// producer never starts kept ferry in open(2) past SIGINT/SIGTERM.
func TestFIFOWithoutWriterStopsOnCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archive.tar")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		src, err := Open(ctx, p, OpenOptions{})
		if err == nil {
			src.Close()
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), p) {
			t.Fatalf("FIFO without a writer after cancel: %v, want context.Canceled naming %s", err, p)
		}
	case <-time.After(3 * time.Second):
		// Let the blocked open go, so the test binary can end.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("a cancel did not stop the open of a FIFO without a writer")
	}
}
