package main

import (
	"encoding/json"
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

// TestJSONErrors: a command given --json that fails says so on stdout, in
// the shape the README documents, with the exit code it exits with.
func TestJSONErrors(t *testing.T) {
	set := testimage.New(t)
	missing := filepath.Join(t.TempDir(), "nope.tar")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"verify", "--json", missing}, exitUsage}, // nothing to audit: the README's exit 2
		{[]string{"ls", "--json", missing}, exitFailed},
		{[]string{"import", missing, "--into", filepath.Join(t.TempDir(), "d"), "--json"}, exitFailed},
		{[]string{"pull", "127.0.0.1:1/a:b", "--to", filepath.Join(t.TempDir(), "d"), "--json"}, exitFailed},
		{[]string{"export", set.Dir, "--to", filepath.Join(t.TempDir(), "no", "such", "dir", "a.tar"), "--json"}, exitFailed},
		{[]string{"import", set.Dir, "--json"}, exitUsage}, // --into missing
		{[]string{"ls", "--json=true", missing}, exitFailed},
	} {
		code, out, errs := ferry(t, tc.args...)
		var je map[string]any
		err := json.Unmarshal([]byte(out), &je)
		if code != tc.code || err != nil || len(je) != 2 || je["code"] != float64(tc.code) || je["error"] == "" {
			t.Errorf("ferry %v: exit %d (want %d), stdout %q (%v), stderr %q", tc.args, code, tc.code, out, err, errs)
			continue
		}
		if msg := je["error"].(string); !strings.Contains(errs, msg) {
			t.Errorf("ferry %v: stderr %q does not carry the JSON error %q", tc.args, errs, msg)
		}
	}
	// Without --json stdout stays empty; verify still exits 2.
	if code, out, _ := ferry(t, "verify", missing); code != exitUsage || out != "" {
		t.Errorf("verify of a missing path: exit %d, stdout %q", code, out)
	}
	if code, out, _ := ferry(t, "ls", "--json=false", missing); code != exitFailed || out != "" {
		t.Errorf("ls --json=false: exit %d, stdout %q", code, out)
	}
}
