package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/layout"
)

// vanishing lists a blob that is gone by the time it is looked at, as when
// gc removes it from a layout directory between ReadDir and Lstat.
type vanishing struct{ fstest.MapFS }

type goneEntry struct{ fs.DirEntry }

func (goneEntry) Info() (fs.FileInfo, error) { return nil, fs.ErrNotExist }

func (v vanishing) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := v.MapFS.ReadDir(name)
	if name == "blobs/sha256" {
		for i := range ents {
			ents[i] = goneEntry{ents[i]}
		}
	}
	return ents, err
}

// A blob that vanished is not junk: the graph walk will call it missing
// if anything needs it. Junk that is there is refused, naming the entry.
func TestStraysVanishedBlobIsNotJunk(t *testing.T) {
	hex := strings.Repeat("a", 64)
	fsys := vanishing{fstest.MapFS{"blobs/sha256/" + hex: {Data: []byte("x")}}}
	if err := refuseStrays(context.Background(), layout.NewFS(fsys, "dir")); err != nil {
		t.Fatal(err)
	}
	junk := fstest.MapFS{"blobs/sha256/" + hex + ".partial": {Data: []byte("x")}}
	err := refuseStrays(context.Background(), layout.NewFS(junk, "dir"))
	if err == nil || !strings.Contains(err.Error(), hex+".partial") || !strings.Contains(err.Error(), "dir:") {
		t.Fatalf("junk: %v", err)
	}
}

// TestLinkedBlobsDirRefused: a directory layout whose blobs/ is a symbolic
// link was read through it by verify and import alike, while a link one
// level down (blobs/sha256) or at a blob was refused: links are refused
// anywhere under blobs/, blobs/ itself included.
func TestLinkedBlobsDirRefused(t *testing.T) {
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	for _, f := range fx {
		if f.Name == "ferry-layout" {
			dir = f.Path
		}
	}
	if dir == "" {
		t.Fatal("no ferry-layout fixture")
	}
	if err := os.Rename(filepath.Join(dir, "blobs"), filepath.Join(dir, "content")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("content", filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), dir, OpenOptions{})
	if err == nil {
		src.Close()
		t.Fatal("a layout whose blobs/ is a symbolic link was opened")
	}
	if !errors.Is(err, layout.ErrUnsafe) || !strings.Contains(err.Error(), "blobs") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("linked blobs/: %v, want %v naming %s and blobs", err, layout.ErrUnsafe, dir)
	}
}
