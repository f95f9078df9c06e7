package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/fattest"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// fat is a FAT32 file system of 300 MiB with 4 KiB clusters, the shape
// of a stick (fusefat reports free space only for clusters of 1 KiB or
// more; see TestFATWithoutFreeSpace for the rest).
func fat(t *testing.T) string {
	return fattest.Mount(t, fattest.Options{SizeMiB: 300, SectorsPerCluster: 8})
}

// entries lists a directory, hidden temp files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// TestFATDetected: the fusefat mount is told for FAT, a temp dir is not.
func TestFATDetected(t *testing.T) {
	dir := fat(t)
	fs := layout.DetectFS(dir)
	if fs.Kind != layout.FSFAT || fs.Type != "fuse.fusefat" || fs.MaxFile() != 4<<30-1 {
		t.Fatalf("on the FAT32 mount: %+v", fs)
	}
	if fs := layout.DetectFS(t.TempDir()); fs.Kind != layout.FSOther || fs.MaxFile() != 0 {
		t.Fatalf("on a temp dir: %+v", fs)
	}
	if fs := layout.DetectFS(filepath.Join(dir, ".")); fs.Kind != layout.FSFAT {
		t.Fatalf("through a path with a dot: %+v", fs)
	}
}

// TestFATRefusesA4GiBArchive: an image of 4 GiB of layer cannot go into
// one archive on FAT32; ferry says so before the first byte and names
// the way out, whether the tar is plain or compressed, and with a volume
// size larger than FAT takes.
func TestFATRefusesA4GiBArchive(t *testing.T) {
	src := testimage.Sparse(t, "example.com/huge:1", 4<<30)
	dir := fat(t)
	for _, c := range []struct{ name, want string }{
		{"huge.tar", "huge.tar would be 42949"},
		{"huge.tar.zst", "may reach"},
	} {
		code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(dir, c.name))
		if code == 0 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "--volume-size fat32") || !strings.Contains(errs, "FAT (fuse.fusefat)") {
			t.Fatalf("export %s onto FAT32: %d %s %s", c.name, code, stdout, errs)
		}
	}
	code, _, errs := ferry(t, "export", src, "--to", filepath.Join(dir, "huge.tar"), "--volume-size", "dvd")
	if code == 0 || !strings.Contains(errs, "huge.001.tar would be") {
		t.Fatalf("export in DVD-sized volumes onto FAT32: %d %s", code, errs)
	}
	if es := entries(t, dir); len(es) != 0 {
		t.Fatalf("written to the stick: %v", es)
	}
}

// TestFATAutoVolumes: --volume-size auto picks fat32 on FAT32 and says
// so, and one archive elsewhere. The 4 GiB image is planned as two
// volumes, which a 300 MiB stick has no room for: refused before the
// first byte with what is needed and what is free.
func TestFATAutoVolumes(t *testing.T) {
	dir := fat(t)
	small := bigImage(t)
	code, stdout, errs := ferry(t, "export", small, "--to", filepath.Join(dir, "big.tar"), "--volume-size", "auto")
	if code != 0 || !strings.Contains(stdout, "volumes of at most 4294967295 bytes (fat32)") || !strings.Contains(stdout, "big.001.tar") {
		t.Fatalf("export --volume-size auto onto FAT32: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, dir); len(es) != 1 || es[0] != "big.001.tar" {
		t.Fatalf("on the stick: %v", es)
	}
	other := t.TempDir()
	code, stdout, errs = ferry(t, "export", small, "--to", filepath.Join(other, "big.tar"), "--volume-size", "auto")
	if code != 0 || !strings.Contains(stdout, "one archive, not cut") {
		t.Fatalf("export --volume-size auto elsewhere: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, other); len(es) != 1 || es[0] != "big.tar" {
		t.Fatalf("in the temp dir: %v", es)
	}

	huge := testimage.Sparse(t, "example.com/huge:1", 4<<30)
	code, stdout, errs = ferry(t, "export", huge, "--to", filepath.Join(dir, "huge.tar"), "--volume-size", "auto")
	if code == 0 || !strings.Contains(errs, "not enough free space") || !strings.Contains(errs, "the 2 volumes of") ||
		!strings.Contains(errs, "need 42949") || !strings.Contains(errs, "are free") {
		t.Fatalf("export of 4 GiB --volume-size auto onto a 300 MiB stick: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, dir); len(es) != 1 {
		t.Fatalf("written to the stick: %v", es)
	}
}

// TestFATNoRoom: an archive larger than the stick's free space is refused
// before the first byte, with both numbers; so is one compressed, by its
// layers that compress no further.
func TestFATNoRoom(t *testing.T) {
	dir := fat(t)
	src := testimage.Sparse(t, "example.com/wide:1", 400<<20)
	code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(dir, "wide.tar"))
	if code == 0 || !strings.Contains(errs, "not enough free space on "+dir+", FAT (fuse.fusefat): ") || !strings.Contains(errs, "wide.tar needs 4194") {
		t.Fatalf("export of 400 MiB onto a 300 MiB stick: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, dir); len(es) != 0 {
		t.Fatalf("written to the stick: %v", es)
	}
}

// TestFATVolumeSetRoundTrip: a set written onto FAT32 and read back from
// it: verify, ls and import take it there, digests and names unchanged.
// copy into an archive on the stick goes the same way.
func TestFATVolumeSetRoundTrip(t *testing.T) {
	dir := fat(t)
	src := bigImage(t)
	_, before, _ := ferry(t, "ls", "--json", src)
	code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(dir, "big.tar"), "--volume-size", "64K")
	if code != 0 || !strings.Contains(stdout, "big.004.tar") {
		t.Fatalf("export: %d %s %s", code, stdout, errs)
	}
	for _, p := range []string{dir, filepath.Join(dir, "big.001.tar")} {
		if code, stdout, errs := ferry(t, "verify", p); code != 0 || !strings.Contains(stdout, "volume set of") {
			t.Fatalf("verify %s: %s %s", p, stdout, errs)
		}
		far := filepath.Join(t.TempDir(), "far")
		if code, stdout, errs := ferry(t, "import", p, "--into", far); code != 0 {
			t.Fatalf("import %s: %s %s", p, stdout, errs)
		}
		if _, after, _ := ferry(t, "ls", "--json", far); after != before {
			t.Fatalf("names or digests changed on the stick:\n%s\nvs\n%s", before, after)
		}
	}
	sub := filepath.Join(dir, "copy")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, errs = ferry(t, "copy", "oci:"+src, "oci-archive:"+filepath.Join(sub, "c.tar.zst"), "--volume-size", "auto")
	if code != 0 || !strings.Contains(stdout, "(fat32)") {
		t.Fatalf("copy onto the stick: %d %s %s", code, stdout, errs)
	}
	if code, stdout, errs := ferry(t, "verify", filepath.Join(sub, "c.001.tar.zst")); code != 0 {
		t.Fatalf("verify the copy: %s %s", stdout, errs)
	}
}

// TestFATNames: a name FAT refuses is refused on FAT before anything is
// written, with a name that works; elsewhere it is written and noted.
func TestFATNames(t *testing.T) {
	dir := fat(t)
	src := bigImage(t)
	code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(dir, "big:1.tar"))
	if code == 0 || !strings.Contains(errs, `has ':'`) || !strings.Contains(errs, "name it big_1.tar") {
		t.Fatalf("export to big:1.tar on FAT32: %d %s %s", code, stdout, errs)
	}
	code, _, errs = ferry(t, "export", src, "--to", filepath.Join(dir, "big.tar."))
	if code == 0 || !strings.Contains(errs, "ends in a dot") {
		t.Fatalf("export to big.tar. on FAT32: %d %s", code, errs)
	}
	if es := entries(t, dir); len(es) != 0 {
		t.Fatalf("written to the stick: %v", es)
	}
	other := t.TempDir()
	code, stdout, errs = ferry(t, "export", src, "--to", filepath.Join(other, "big:1.tar"))
	if code != 0 || !strings.Contains(stdout, "will not copy to a FAT or exFAT stick") || !strings.Contains(stdout, "name it big_1.tar") {
		t.Fatalf("export to big:1.tar elsewhere: %d %s %s", code, stdout, errs)
	}
}

// TestFATWithoutFreeSpace: fusefat reports no blocks at all on FAT32 with
// 512-byte clusters (what mkfs.vfat makes of a small image); that is a
// file system that cannot say, not a full one, and the write goes ahead.
func TestFATWithoutFreeSpace(t *testing.T) {
	dir := fattest.Mount(t, fattest.Options{SizeMiB: 64, SectorsPerCluster: 1})
	if _, ok := layout.FreeSpace(dir); ok {
		t.Skip("this fusefat reports free space with 512-byte clusters")
	}
	src := bigImage(t)
	if code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(dir, "big.tar")); code != 0 {
		t.Fatalf("export onto a stick that does not say what is free: %d %s %s", code, stdout, errs)
	}
	if code, stdout, errs := ferry(t, "verify", filepath.Join(dir, "big.tar")); code != 0 {
		t.Fatalf("verify: %s %s", stdout, errs)
	}
}

// TestFATPull: a pull into an archive on FAT32 is looked at the same
// way: --volume-size auto cuts it at fat32 and says so, and a name FAT
// refuses is refused before a layer is fetched.
func TestFATPull(t *testing.T) {
	dir := fat(t)
	reg := regtest.Start(t)
	if code, _, errs := ferry(t, "push", bigImage(t), "--to", reg.Host); code != 0 {
		t.Fatalf("push: %s", errs)
	}
	ref := reg.Host + "/big:1"
	code, stdout, errs := ferry(t, "pull", ref, "--to", filepath.Join(dir, "big.tar"), "--volume-size", "auto")
	if code != 0 || !strings.Contains(stdout, "(fat32)") || !strings.Contains(stdout, "big.001.tar") {
		t.Fatalf("pull --volume-size auto onto FAT32: %d %s %s", code, stdout, errs)
	}
	if code, stdout, errs := ferry(t, "verify", filepath.Join(dir, "big.001.tar")); code != 0 {
		t.Fatalf("verify: %s %s", stdout, errs)
	}
	code, stdout, errs = ferry(t, "pull", ref, "--to", filepath.Join(dir, "big:1.tar"))
	if code == 0 || !strings.Contains(errs, "name it big_1.tar") {
		t.Fatalf("pull to big:1.tar on FAT32: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, dir); len(es) != 1 {
		t.Fatalf("on the stick: %v", es)
	}
}

// TestFATFailedImportLeavesNothing: an import into a new directory on a
// FUSE-mounted FAT32 that fails (a corrupt blob) must take away the layout
// it began. fusefat keeps a file removed while open as a hidden file until
// it is closed, so removing .ferry while still holding its lock left an
// empty .ferry (with that hidden file) behind.
func TestFATFailedImportLeavesNothing(t *testing.T) {
	stick := fat(t)
	set := testimage.New(t)
	b, _ := os.ReadFile(set.BlobFile(set.Single.Layer))
	b[10] ^= 0xff
	os.WriteFile(set.BlobFile(set.Single.Layer), b, 0o644)
	dst := filepath.Join(stick, "far")
	code, _, errs := ferry(t, "import", set.Dir, "busybox:1.36", "--into", dst)
	if code == 0 || !strings.Contains(errs, set.Single.Layer.Digest.String()) {
		t.Fatalf("import of a corrupt layer: %d %s", code, errs)
	}
	if es, err := os.ReadDir(dst); err == nil && len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("the failed import left %v in %s", names, dst)
	}
}
