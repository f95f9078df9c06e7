package archive_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestSetOfOneByDirectory: a set that fit in one volume is a plain
// archive named NAME.001.tar, and the directory it was written into names
// it as a larger set's directory would (the demo found it refused).
func TestSetOfOneByDirectory(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	dir := t.TempDir()
	res, err := archive.Write(context.Background(), src, src.Images, filepath.Join(dir, "r.tar"), archive.WriteOptions{VolumeSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) != 1 || filepath.Base(res.Volumes[0]) != "r.001.tar" {
		t.Fatalf("volumes %v, want one r.001.tar", res.Volumes)
	}
	back := open(t, dir)
	if len(back.Images) != len(src.Images) {
		t.Fatalf("the directory of a set of one holds %d images, want %d", len(back.Images), len(src.Images))
	}
	if _, err := archive.Import(context.Background(), dir, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{}); err != nil {
		t.Fatalf("import by the directory: %v", err)
	}
}
