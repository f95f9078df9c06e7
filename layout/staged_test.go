package layout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// TestStaleTempsTakesOnlyDeadWritersFiles: a temp file of the exact shape
// Stage writes whose lock is free (its writer was killed) is removed; the
// file of a writer still holding it, a name of another shape, and a
// committed file are not.
func TestStaleTempsTakesOnlyDeadWritersFiles(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	live, err := layout.Stage(root, ".", ".a.tar.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	live.Write([]byte("still being written"))
	done, _ := layout.Stage(root, ".", ".a.tar.tmp-")
	done.Write([]byte("finished"))
	if err := done.Commit("a.tar"); err != nil {
		t.Fatal(err)
	}
	dead := ".a.tar.tmp-0123456789abcdef" // what a killed writer leaves: no lock
	other := ".a.tar.tmp-notours"
	for _, n := range []string{dead, other} {
		os.WriteFile(filepath.Join(dir, n), []byte("left over"), 0o644)
	}
	got := layout.StaleTemps(root, ".", ".a.tar.tmp-", true)
	if len(got) != 1 || got[0].Path != dead || got[0].Size != int64(len("left over")) {
		t.Fatalf("StaleTemps = %+v, want only %s", got, dead)
	}
	for n, want := range map[string]bool{dead: false, other: true, live.Name(): true, "a.tar": true} {
		if _, err := os.Lstat(filepath.Join(dir, n)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", n, err == nil, want)
		}
	}
}
