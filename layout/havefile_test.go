//go:build unix

package layout

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestWriteHaveListFile: the list replaces the file whole, a dead
// writer's temp file is cleaned, and a write that fails leaves the old
// list as it was and no temp file.
func TestWriteHaveListFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "have.json")
	h := &HaveList{}
	h.Add(digest.FromString("a"), 1)
	if err := WriteHaveListFile(path, h); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if got, err := ReadHaveList(bytes.NewReader(first), path); err != nil || got.Digest != h.Digest {
		t.Fatalf("%v %v", got, err)
	}
	root, _ := os.OpenRoot(dir)
	st, err := Stage(root, ".", ".have.json.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	st.Keep() // closed, so its lock is free: a dead writer's leftover
	root.Close()
	dead := filepath.Join(dir, st.Name())
	h.Add(digest.FromString("b"), 2)
	if err := WriteHaveListFile(path, h); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %v (the dead writer's %s among them?)", ents, dead)
	}
	second, _ := os.ReadFile(path)
	if bytes.Equal(first, second) {
		t.Fatal("not replaced")
	}
	// A full disk, as a file size limit: the write fails part way.
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old)
	h.Add(digest.FromString("c"), 3)
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16, Max: old.Max})
	err = WriteHaveListFile(path, h)
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	if err == nil {
		t.Fatal("write past the size limit succeeded")
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, second) {
		t.Fatal("a failed write changed the list")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("a failed write left %v", ents)
	}
}
