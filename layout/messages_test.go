package layout_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// TestCreateDirDanglingSymlink: a destination that is a symlink to
// nowhere is named as such, not reported as "mkdir: file exists".
func TestCreateDirDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	link, target := filepath.Join(dir, "dst"), filepath.Join(dir, "nowhere")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := layout.CreateDir(context.Background(), link)
	if err == nil || !strings.Contains(err.Error(), link+" is a dangling symlink (to "+target+")") || strings.Contains(err.Error(), "file exists") {
		t.Fatalf("CreateDir of a dangling symlink: %v", err)
	}
	// A link to a file is not dangling: that error stays the system's.
	os.WriteFile(target, nil, 0o644)
	if _, err := layout.CreateDir(context.Background(), link); err == nil || strings.Contains(err.Error(), "dangling") {
		t.Fatalf("CreateDir of a link to a file: %v", err)
	}
}
