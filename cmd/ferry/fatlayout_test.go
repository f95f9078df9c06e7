package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestFATRefusesA4GiBBlobInALayout: a layout keeps each blob as one file,
// so an image with a 4 GiB layer cannot be imported or copied into a
// directory on FAT32. ferry refuses before the first byte, naming the
// image, the blob and the way out (an archive in volumes that fit), and
// leaves nothing on the stick.
func TestFATRefusesA4GiBBlobInALayout(t *testing.T) {
	src := testimage.Sparse(t, "example.com/huge:1", 4<<30)
	dir := fat(t)
	for _, args := range [][]string{
		{"import", src, "--into", filepath.Join(dir, "l")},
		{"copy", src, "oci:" + filepath.Join(dir, "l")},
	} {
		code, stdout, errs := ferry(t, args...)
		if code == 0 {
			t.Fatalf("%v onto FAT32 succeeded: %s", args, stdout)
		}
		for _, w := range []string{"example.com/huge:1", "blob sha256:", "4294967296 bytes", "FAT (fuse.fusefat)", "--volume-size fat32"} {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: %q does not say %q", args, errs, w)
			}
		}
		// No file, and no blob, is written (the failed first import
		// takes its .ferry away too: TestFATFailedImportLeavesNothing).
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err == nil && !de.IsDir() || strings.Contains(p, "blobs") {
				t.Errorf("%v wrote %s to the stick", args, p)
			}
			return nil
		})
	}
}
