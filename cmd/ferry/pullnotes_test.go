package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestPullAndCopyToArchiveSayWhatExportSays: pull and copy into an archive
// write it as export does, but dropped what export says about it: that a
// docker-format archive gets new manifest digests (the README promises
// each exception to "digests never change" is said in the output) and
// which leftovers of killed runs beside it were removed.
func TestPullAndCopyToArchiveSayWhatExportSays(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "--to", reg.Host); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	for _, cmd := range []string{"pull", "copy"} {
		dir := t.TempDir()
		arch := filepath.Join(dir, "app.tar")
		dead := filepath.Join(dir, ".app.tar.tmp-0123456789abcdef")
		if err := os.WriteFile(dead, []byte("a killed run's bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{cmd, reg.Host + "/app:v1", arch, "--format", "docker", "--platform", "linux/amd64"}
		if cmd == "pull" {
			args = []string{cmd, reg.Host + "/app:v1", "--to", arch, "--format", "docker", "--platform", "linux/amd64"}
		}
		code, out, errs := ferry(t, args...)
		if code != 0 {
			t.Fatalf("%s: %s %s", cmd, out, errs)
		}
		if !strings.Contains(out, "loaders will compute new manifest digests") {
			t.Errorf("%s --format docker does not say the manifest digests change:\n%s", cmd, out)
		}
		if !strings.Contains(out, "removed 1 leftover(s) of killed ferry runs beside "+arch) {
			t.Errorf("%s does not report the leftover it removed:\n%s", cmd, out)
		}
		if _, err := os.Lstat(dead); !os.IsNotExist(err) {
			t.Errorf("%s left the dead temp file: %v", cmd, err)
		}
	}
}

// TestPullIntoLayoutReportsLeftovers: a pull into a layout removes the
// staging a killed import left in .ferry/tmp, as an import does, but said
// nothing of it; import reports it, and so must pull and copy.
func TestPullIntoLayoutReportsLeftovers(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "--to", reg.Host); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	for _, cmd := range []string{"pull", "copy"} {
		dir := filepath.Join(t.TempDir(), "dst")
		if code, _, errs := ferry(t, "pull", reg.Host+"/app:v1", "--to", dir); code != 0 {
			t.Fatal(errs)
		}
		// What a killed import leaves: a session directory whose lock
		// nobody holds.
		dead := filepath.Join(dir, ".ferry", "tmp", "s-0123456789abcdef")
		if err := os.MkdirAll(dead, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dead, "b-0123456789abcdef"), []byte("a killed import's bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"copy", reg.Host + "/app:v1", dir}
		if cmd == "pull" {
			args = []string{"pull", reg.Host + "/app:v1", "--to", dir}
		}
		code, out, errs := ferry(t, args...)
		if code != 0 {
			t.Fatalf("%s: %s %s", cmd, out, errs)
		}
		if _, err := os.Lstat(dead); !os.IsNotExist(err) {
			t.Fatalf("%s left the killed import's staging: %v", cmd, err)
		}
		if !strings.Contains(out, "removed 1 leftover(s) of killed ferry runs in "+dir) {
			t.Errorf("%s does not report the leftover it removed:\n%s", cmd, out)
		}
	}
}
