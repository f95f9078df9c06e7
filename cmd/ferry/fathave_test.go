package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFATHaveListName: a have-list is carried out on a stick, so its name
// follows the rule archive writes follow: on FAT32 a name FAT would refuse
// or change (a trailing dot is dropped, so the file is not found under
// its name again) is refused before the target is read, and nothing is
// written; elsewhere it is written, with a note; a plain name on FAT32 is
// written.
func TestFATHaveListName(t *testing.T) {
	src := bigImage(t)
	dir := fat(t)
	for _, name := range []string{"have.", "have:1.json", "CON.json"} {
		code, stdout, errs := ferry(t, "have", src, "--to", filepath.Join(dir, name))
		if code == 0 || !strings.Contains(errs, "cannot be written to FAT (fuse.fusefat)") || !strings.Contains(errs, name) {
			t.Errorf("have --to %s on FAT32: %d %s %s", name, code, stdout, errs)
		}
		if es := entries(t, dir); len(es) != 0 {
			t.Fatalf("have --to %s wrote to the stick: %v", name, es)
		}
	}
	other := filepath.Join(t.TempDir(), "have:1.json")
	if code, stdout, errs := ferry(t, "have", src, "--to", other); code != 0 || !strings.Contains(errs, "will not copy to a FAT or exFAT stick") {
		t.Fatalf("have --to %s elsewhere: %d %s %s", other, code, stdout, errs)
	}
	if code, stdout, errs := ferry(t, "have", src, "--to", filepath.Join(dir, "have.json")); code != 0 || strings.Contains(errs, "note:") {
		t.Fatalf("have --to have.json on FAT32: %d %s %s", code, stdout, errs)
	}
	if es := entries(t, dir); len(es) != 1 || es[0] != "have.json" {
		t.Fatalf("on the stick: %v", es)
	}
}
