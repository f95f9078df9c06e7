package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestArchiveModeFollowsUmask: an archive is a file the user asked for,
// so it gets 0666 &^ umask like any other, not its temp file's 0600.
func TestArchiveModeFollowsUmask(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	for _, mask := range []int{0o022, 0o002, 0o077} {
		old := syscall.Umask(mask)
		p := filepath.Join(t.TempDir(), "a.tar.gz")
		_, err := archive.Write(context.Background(), src, src.Images, p, archive.WriteOptions{})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o666 &^ mask); fi.Mode().Perm() != want {
			t.Errorf("umask %04o: archive mode %v, want %v", mask, fi.Mode().Perm(), want)
		}
	}
}
