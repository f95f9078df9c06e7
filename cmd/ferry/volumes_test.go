package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// bigImage is a layout with one image whose layer is 200 KiB of noise.
func bigImage(t *testing.T) string { return testimage.Noisy(t, "example.com/big:1", 200<<10, 3) }

// TestVolumesCarryAcross: export into volumes, then verify, ls and import
// take the set by its directory or its first volume; a later export of
// fewer volumes under the same name leaves no volume of the old set.
func TestVolumesCarryAcross(t *testing.T) {
	src := bigImage(t)
	_, before, _ := ferry(t, "ls", "--json", src)
	out := t.TempDir()
	code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(out, "big.tar"), "--volume-size", "64K")
	if code != 0 || !strings.Contains(stdout, "big.004.tar") {
		t.Fatalf("export: %d %s %s", code, stdout, errs)
	}
	first := filepath.Join(out, "big.001.tar")
	for _, p := range []string{out, first} {
		if code, stdout, _ := ferry(t, "verify", p); code != 0 || !strings.Contains(stdout, "volume set of") {
			t.Fatalf("verify %s: %s", p, stdout)
		}
		if code, stdout, _ := ferry(t, "ls", p); code != 0 || !strings.Contains(stdout, "example.com/big") {
			t.Fatalf("ls %s: %s", p, stdout)
		}
		far := filepath.Join(t.TempDir(), "far")
		if code, stdout, errs := ferry(t, "import", p, "--into", far); code != 0 {
			t.Fatalf("import %s: %s %s", p, stdout, errs)
		}
		if _, after, _ := ferry(t, "ls", "--json", far); after != before {
			t.Fatalf("names or digests changed in transit:\n%s\nvs\n%s", before, after)
		}
	}
	os.Remove(filepath.Join(out, "big.003.tar"))
	if code, stdout, errs := ferry(t, "import", out, "--into", filepath.Join(t.TempDir(), "x")); code == 0 || !strings.Contains(errs, "missing volume 3 (big.003.tar)") {
		t.Fatalf("import of a set without volume 3: %d %s %s", code, stdout, errs)
	}
	code, stdout, errs = ferry(t, "export", src, "--to", filepath.Join(out, "big.tar"), "--volume-size", "1M")
	if code != 0 || !strings.Contains(stdout, "removed") {
		t.Fatalf("export again: %d %s %s", code, stdout, errs)
	}
	des, _ := os.ReadDir(out)
	if len(des) != 1 || des[0].Name() != "big.001.tar" {
		t.Fatalf("left beside the new set: %v", des)
	}
	if code, stdout, _ := ferry(t, "verify", first); code != 0 || strings.Contains(stdout, "volume set") {
		t.Fatalf("a set of one is a plain archive: %s", stdout)
	}
}

func TestVolumeSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"fat32": 4<<30 - 1, "dvd": 4_700_000_000, "bd25": 25_000_000_000,
		"4G": 4 << 30, "4GiB": 4 << 30, "4.7GB": 4_700_000_000, "700MB": 700_000_000, "64k": 64 << 10, "1048576": 1 << 20} {
		if got, err := archive.ParseVolumeSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "1.2.3G", "4X", "-1G", "1K", "1e9"} {
		if _, err := archive.ParseVolumeSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	src := bigImage(t)
	for _, args := range [][]string{
		{"export", src, "--to", filepath.Join(t.TempDir(), "a.tar"), "--volume-size", "lots"},
		{"copy", src, "oci:" + t.TempDir(), "--volume-size", "1G"},
	} {
		if code, _, errs := ferry(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}
