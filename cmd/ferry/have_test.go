package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// haveRun runs ferry have ARGS --to a fresh file with --json and returns
// the summary and the file's bytes.
func haveRun(t *testing.T, args ...string) (haveSummary, []byte) {
	t.Helper()
	to := filepath.Join(t.TempDir(), "have.json")
	code, out, errs := ferry(t, append([]string{"have", "--to", to, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ferry have %v: exit %d: %s %s", args, code, out, errs)
	}
	var s haveSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json: %v: %s", err, out)
	}
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(to)); len(ents) != 1 {
		t.Fatalf("have left more than the list: %v", ents)
	}
	h, err := layout.ReadHaveList(bytes.NewReader(b), to)
	if err != nil {
		t.Fatalf("the list written does not read back: %v", err)
	}
	if h.Digest != s.Digest || h.Blobs() != s.Blobs || h.Bytes() != s.Bytes || len(h.Images) != s.Images {
		t.Fatalf("summary %+v does not describe the file (digest %s, %d blobs, %d bytes, %d names)", s, h.Digest, h.Blobs(), h.Bytes(), len(h.Images))
	}
	return s, b
}

// TestHaveLocal: a layout and the same images exported as each kind of
// archive give the same have-list, byte for byte, every time.
func TestHaveLocal(t *testing.T) {
	set := testimage.New(t)
	sum, want := haveRun(t, set.Dir)
	if sum.Blobs != set.TotalBlobs || sum.Images != len(set.Names)+1 {
		t.Fatalf("layout: %+v, want %d blobs and %d names", sum, set.TotalBlobs, len(set.Names)+1)
	}
	if _, again := haveRun(t, set.Dir); !bytes.Equal(again, want) {
		t.Fatal("two runs over the same layout wrote different lists")
	}
	for _, name := range []string{"a.tar", "a.tar.gz", "a.tar.zst"} {
		arch := filepath.Join(t.TempDir(), name)
		if code, _, errs := ferry(t, "export", set.Dir, "--to", arch, "--format", "oci"); code != 0 {
			t.Fatal(errs)
		}
		if _, got := haveRun(t, arch); !bytes.Equal(got, want) {
			t.Errorf("%s: list differs from the layout's:\n%s\nwant\n%s", name, got, want)
		}
	}
	// To stdout: the same bytes, and the human summary on stderr.
	code, out, errs := ferry(t, "have", set.Dir, "--to", "-")
	if code != 0 || out != string(want) || !strings.Contains(errs, sum.Digest.String()) {
		t.Fatalf("--to -: exit %d, stdout equal %v, stderr %q", code, out == string(want), errs)
	}
}

// TestHaveLeavesOutBadBlobs: a blob whose bytes do not match its name is
// left out (and said so) where ferry checks: always for a streamed
// archive, with --verify for a layout. Left out, it travels again.
func TestHaveLeavesOutBadBlobs(t *testing.T) {
	set := testimage.New(t)
	plain := filepath.Join(t.TempDir(), "a.tar")
	if code, _, errs := ferry(t, "export", set.Dir, "--to", plain, "--format", "oci"); code != 0 {
		t.Fatal(errs)
	}
	spoil := func(b []byte) []byte {
		out := bytes.Replace(b, []byte("hello from amd64"), []byte("hello from AMD64"), 1)
		if bytes.Equal(out, b) {
			t.Fatal("layer content not found")
		}
		return out
	}
	layer := set.BlobFile(set.AMD64.Layer)
	b, _ := os.ReadFile(layer)
	os.Chmod(layer, 0o644)
	if err := os.WriteFile(layer, spoil(b), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, _ := os.ReadFile(plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(spoil(tb))
	zw.Close()
	streamed := filepath.Join(t.TempDir(), "a.tar.gz")
	os.WriteFile(streamed, gz.Bytes(), 0o644)

	if sum, _ := haveRun(t, set.Dir); sum.Blobs != set.TotalBlobs {
		t.Fatalf("without --verify a layout's blobs are listed as found: %+v", sum)
	}
	for _, args := range [][]string{{set.Dir, "--verify"}, {streamed}} {
		sum, list := haveRun(t, args...)
		if sum.Blobs != set.TotalBlobs-1 || bytes.Contains(list, []byte(set.AMD64.Layer.Digest)) {
			t.Errorf("%v: the bad layer is listed: %+v", args, sum)
		}
		if len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0], set.AMD64.Layer.Digest.Encoded()) {
			t.Errorf("%v: skipped %q does not name the bad layer", args, sum.Skipped)
		}
	}
}
