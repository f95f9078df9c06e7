package layout

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	good, short, link, hard := "00000000000000aa", "00000000000000bb", "00000000000000cc", "00000000000000dd"
	os.WriteFile(filepath.Join(sess, "b-"+good), make([]byte, 10<<20), 0o644)
	os.WriteFile(filepath.Join(sess, "b-"+short), make([]byte, 2<<20), 0o644)
	outside := filepath.Join(t.TempDir(), "theirs")
	os.WriteFile(outside, make([]byte, 10<<20), 0o644)
	os.Symlink(outside, filepath.Join(sess, "b-"+link))
	linked := filepath.Join(dir, "someones-file") // same file system: a hard link to it
	os.WriteFile(linked, make([]byte, 10<<20), 0o644)
	if err := os.Link(linked, filepath.Join(sess, "b-"+hard)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{
		"v-" + good + "." + hex + ".4194304",
		"v-" + short + "." + hex + ".4194304",
		"v-" + link + "." + hex + ".4194304",
		"v-" + hard + "." + hex + ".4194304",
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
	for _, f := range []string{outside, linked} {
		if fi, err := os.Stat(f); err != nil || fi.Size() != 10<<20 {
			t.Errorf("%s, linked into the session: %v %v", f, fi, err)
		}
	}
	left, _ := os.ReadDir(sess)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), markPrefix) {
			t.Errorf("marker %s left", e.Name())
		}
	}
}

// TestMarkSetAtOnce: a resumed blob's kept prefix is marked before it is
// hashed again (a kill during that hash must not lose it); later marks
// come every markEvery bytes, and drop removes the marker.
func TestMarkSetAtOnce(t *testing.T) {
	dir := t.TempDir()
	d, err := CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := d.stage("b-")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	desc := ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, strings.Repeat("cd", 32)), Size: 100 << 20}
	m := d.newMark(st, desc)
	markers := func() []string {
		ents, _ := os.ReadDir(filepath.Join(dir, path.Dir(st.Name())))
		var out []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), markPrefix) {
				out = append(out, e.Name()[strings.LastIndex(e.Name(), ".")+1:])
			}
		}
		return out
	}
	m.set(3 << 20)
	if got := markers(); len(got) != 1 || got[0] != "3145728" {
		t.Fatalf("markers after set(3 MiB): %v", got)
	}
	m.at(3<<20 + markEvery - 1)
	if got := markers(); len(got) != 1 || got[0] != "3145728" {
		t.Fatalf("markers before a step: %v", got)
	}
	m.at(3<<20 + markEvery)
	if got := markers(); len(got) != 1 || got[0] != fmt.Sprint(3<<20+markEvery) {
		t.Fatalf("markers after a step: %v", got)
	}
	m.drop()
	if got := markers(); len(got) != 0 {
		t.Fatalf("markers after drop: %v", got)
	}
}
