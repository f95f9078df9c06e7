package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spoilTail overwrites the last bytes of p, far past its head: a command
// that read p through would fail on them, one that looked only at its head
// would not notice.
func spoilTail(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() < 32<<10 {
		t.Fatalf("%s is only %d bytes: its tail is not past its head", p, fi.Size())
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", 4096)), fi.Size()-4096); err != nil {
		t.Fatal(err)
	}
}

// TestPushCompressedRefusedUpFront: push and export need blobs in any
// order, which a compressed archive or volume set gives only in one pass.
// They refuse one from its first bytes with what to do instead, not after
// streaming all of it: the proof is a damaged tail that a pass over the
// set would have tripped on first.
func TestPushCompressedRefusedUpFront(t *testing.T) {
	src := bigImage(t)
	setDir := t.TempDir()
	if code, stdout, errs := ferry(t, "export", src, "--to", filepath.Join(setDir, "big.tar.gz"), "--volume-size", "96K"); code != 0 {
		t.Fatalf("export: %d %s %s", code, stdout, errs)
	}
	vols, _ := filepath.Glob(filepath.Join(setDir, "big.*.tar.gz"))
	if len(vols) < 2 {
		t.Fatalf("volumes %v", vols)
	}
	spoilTail(t, vols[0]) // gzip: its head reads without its tail
	one := filepath.Join(t.TempDir(), "big.tar.zst")
	if code, stdout, errs := ferry(t, "export", src, "--to", one); code != 0 {
		t.Fatalf("export: %d %s %s", code, stdout, errs)
	}
	spoilTail(t, one)
	for _, c := range []struct {
		src  string
		want []string
	}{
		{setDir, []string{"volume set", "is compressed (big.001.tar.gz", "ferry import " + setDir + " DIR", "decompress every volume"}},
		{vols[0], []string{"volume set", "is compressed", "ferry import " + setDir + " DIR"}},
		{one, []string{one + " is compressed (zstd)", "ferry import " + one + " DIR", "a plain .tar is read in place"}},
	} {
		for _, args := range [][]string{
			{"push", c.src, "--to", "127.0.0.1:1/x"},
			{"export", c.src, "--to", filepath.Join(t.TempDir(), "out.tar")},
			{"copy", c.src, "127.0.0.1:1/x"},
		} {
			code, _, errs := ferry(t, args...)
			if code == 0 {
				t.Fatalf("%v succeeded", args)
			}
			for _, w := range append(c.want, "read only in one pass") {
				if !strings.Contains(errs, w) {
					t.Errorf("%v: %q does not say %q", args, errs, w)
				}
			}
		}
	}
}
