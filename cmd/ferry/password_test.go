package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPasswordStdinStopsOnSignal: a command waiting for --password-stdin
// (a prompt nobody answers, a pipe whose writer stalls) ignored SIGINT and
// SIGTERM until a line came: the read was not tied to the command's
// context. It must end at once with exit 130.
func TestPasswordStdinStopsOnSignal(t *testing.T) {
	stdin, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb strings.Builder
	go func() {
		done <- run(ctx, []string{"ferry", "pull", "--username", "u", "--password-stdin", "127.0.0.1:1/x:1", "--to", filepath.Join(t.TempDir(), "dst")}, stdin, io.Discard, &errb)
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != exitInterrupted {
			t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, errb.String())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a signal did not stop the wait for --password-stdin")
	}
}
