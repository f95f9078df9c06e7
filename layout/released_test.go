package layout

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveReleased: a directory that only a FUSE driver's hidden file
// keeps (the lock just closed, not yet released by the driver) is
// removed once the file goes; one with anything else in it is kept, at
// once.
func TestRemoveReleased(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, n := range []string{"held/.fuse_hidden0000000100000001", "kept/lock"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.Remove(filepath.Join(dir, "held/.fuse_hidden0000000100000001"))
	}()
	removeReleased(root, "held")
	if _, err := os.Stat(filepath.Join(dir, "held")); !os.IsNotExist(err) {
		t.Errorf("held: %v, want it removed once its hidden file went", err)
	}
	start := time.Now()
	removeReleased(root, "kept")
	if _, err := os.Stat(filepath.Join(dir, "kept/lock")); err != nil {
		t.Errorf("kept/lock: %v", err)
	}
	// Waiting on it would take 50 polls of 20 ms: a tenth of that is
	// room for a loaded machine's slow system calls, not a wait.
	if time.Since(start) > 100*time.Millisecond {
		t.Errorf("a directory holding a real file was waited on for %v", time.Since(start))
	}
}
