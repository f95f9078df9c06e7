package layout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeepMarked: a dead session's marker turns its staged file into a
// partial cut to the prefix it names; markers that name something else
// (a symlink, a file shorter than they claim, a name of another shape,
// too little to keep) keep nothing and touch nothing outside the session,
// and every marker goes.
func TestKeepMarked(t *testing.T) {
	dir := t.TempDir()
	d, err := CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sess := filepath.Join(dir, stagePath, "s-0123456789abcdef")
	os.MkdirAll(sess, 0o755)
	hex := strings.Repeat("ab", 32)
	good, short, link := "00000000000000aa", "00000000000000bb", "00000000000000cc"
	os.WriteFile(filepath.Join(sess, "b-"+good), make([]byte, 10<<20), 0o644)
	os.WriteFile(filepath.Join(sess, "b-"+short), make([]byte, 2<<20), 0o644)
	outside := filepath.Join(t.TempDir(), "theirs")
	os.WriteFile(outside, make([]byte, 10<<20), 0o644)
	os.Symlink(outside, filepath.Join(sess, "b-"+link))
	for _, m := range []string{
		"v-" + good + "." + hex + ".4194304",
		"v-" + short + "." + hex + ".4194304",
		"v-" + link + "." + hex + ".4194304",
		"v-../../x." + hex + ".4194304",
		"v-" + good + ".zz.4194304",
		"v-" + good + "." + hex + ".04194304",
		"v-" + good + "." + hex + ".1000",
	} {
		os.WriteFile(filepath.Join(sess, m), nil, 0o644)
	}
	if kept := d.keepMarked(filepath.ToSlash(filepath.Join(stagePath, "s-0123456789abcdef"))); kept != 4<<20 {
		t.Errorf("kept %d bytes, want the one good marker's 4 MiB", kept)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, partialPath))
	if len(ents) != 1 || ents[0].Name() != hex+".4194304" {
		t.Fatalf("partials: %v", ents)
	}
	if fi, _ := os.Stat(filepath.Join(dir, partialPath, ents[0].Name())); fi.Size() != 4<<20 {
		t.Errorf("partial of %d bytes, want the 4 MiB prefix", fi.Size())
	}
	if fi, err := os.Stat(outside); err != nil || fi.Size() != 10<<20 {
		t.Errorf("the file a symlink pointed at: %v %v", fi, err)
	}
	left, _ := os.ReadDir(sess)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), markPrefix) {
			t.Errorf("marker %s left", e.Name())
		}
	}
}
