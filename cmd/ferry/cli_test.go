package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// ferry runs the CLI in-process and returns exit code, stdout and stderr.
func ferry(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"ferry"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// snapshot records every file of a directory with its content, to prove a
// failed command changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".ferry") {
			return nil
		}
		b, _ := os.ReadFile(p)
		m[rel] = string(b)
		return nil
	})
	return m
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"verify"},
		{"verify", "a", "b"},
		{"import", "x.tar"},           // --into is required
		{"ls", "--no-such-flag", "x"}, // unknown flag
		{"export", "dir", "--to", "x.tar", "--platform", "linux"}, // bad platform
		{"nosuchcommand"},
		{"tag", "dir", "a", "b@sha256:" + strings.Repeat("a", 64)},
		{"export", "dir", "--to", "x.tar", "--format", "tarball"},         // unknown format
		{"pull", "127.0.0.1:1/a:b", "--to", "somedir", "--format", "oci"}, // --format with a directory
	} {
		if code, _, stderr := ferry(t, args...); code != exitUsage {
			t.Errorf("ferry %v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
}

func TestVerifyExitCodesAndJSON(t *testing.T) {
	set := testimage.New(t)
	code, out, _ := ferry(t, "verify", set.Dir)
	if code != exitOK || !strings.Contains(out, "OK:") || !strings.Contains(out, "example.com/app:v1") {
		t.Fatalf("sound layout: exit %d\n%s", code, out)
	}
	b, _ := os.ReadFile(set.BlobFile(set.ARM64.Layer))
	b[10] ^= 1
	os.WriteFile(set.BlobFile(set.ARM64.Layer), b, 0o644)
	code, out, _ = ferry(t, "verify", "--json", set.Dir)
	if code != exitFailed {
		t.Fatalf("corrupt layout: exit %d", code)
	}
	var rep struct {
		OK       bool
		Problems []struct{ Kind, Digest, Message string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json is not JSON: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Kind != "digest-mismatch" || rep.Problems[0].Digest != set.ARM64.Layer.Digest.String() {
		t.Fatalf("report: %+v", rep)
	}
	if code, _, stderr := ferry(t, "verify", filepath.Join(t.TempDir(), "nope.tar")); code != exitUsage || !strings.Contains(stderr, "nope.tar") {
		t.Fatalf("missing file: exit %d, %q", code, stderr)
	}
}

func TestLsNamesAndPlatforms(t *testing.T) {
	set := testimage.New(t)
	code, out, _ := ferry(t, "ls", "--json", set.Dir)
	if code != exitOK {
		t.Fatal(out)
	}
	var ls []struct {
		Name      string
		Tag       string
		Platforms []string
		NameFrom  string
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, l := range ls {
		got[l.Name] = l.Platforms
	}
	want := map[string][]string{
		"example.com/app:v1":               {"linux/amd64", "linux/arm64"},
		"docker.io/library/busybox:1.36":   {"linux/amd64"},
		"docker.io/library/busybox:latest": {"linux/amd64"},
		"@" + set.Referrer.Digest.String(): {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ls: got %v\nwant %v", got, want)
	}
	_, human, _ := ferry(t, "ls", set.Dir)
	if !strings.Contains(human, "docker.io/library/busybox  1.36") {
		t.Fatalf("human ls:\n%s", human)
	}
}

// TestCarryAcross is the main job on one machine: export to each archive
// kind, verify, import on the "far side" with flags after arguments, and
// find the same names and digests.
func TestCarryAcross(t *testing.T) {
	set := testimage.New(t)
	_, before, _ := ferry(t, "ls", "--json", set.Dir)
	for _, name := range []string{"images.tar", "images.tar.gz", "images.tar.zst"} {
		arch := filepath.Join(t.TempDir(), name)
		if code, out, errs := ferry(t, "export", set.Dir, "--to", arch); code != 0 {
			t.Fatalf("export: %s %s", out, errs)
		}
		if code, out, _ := ferry(t, "verify", arch); code != 0 {
			t.Fatalf("verify %s:\n%s", name, out)
		}
		far := filepath.Join(t.TempDir(), "far")
		if code, out, errs := ferry(t, "import", arch, "--into", far); code != 0 || !strings.Contains(out, "all verified") {
			t.Fatalf("import %s: %s %s", name, out, errs)
		}
		if _, after, _ := ferry(t, "ls", "--json", far); after != before {
			t.Fatalf("%s: names or digests changed in transit:\n%s\nvs\n%s", name, before, after)
		}
	}
}

func TestFailedImportChangesNothing(t *testing.T) {
	set := testimage.New(t)
	arch := filepath.Join(t.TempDir(), "a.tar")
	if code, _, errs := ferry(t, "export", set.Dir, "--to", arch); code != 0 {
		t.Fatal(errs)
	}
	// The destination already holds one image.
	far := filepath.Join(t.TempDir(), "far")
	if code, _, errs := ferry(t, "import", set.Dir, "busybox:1.36", "--into", far); code != 0 {
		t.Fatal(errs)
	}
	before := snapshot(t, far)
	// Corrupt the arm64 layer inside the archive, same size.
	b, _ := os.ReadFile(arch)
	i := bytes.Index(b, []byte("hello from arm64"))
	b[i] = 'J'
	os.WriteFile(arch, b, 0o644)
	code, _, errs := ferry(t, "import", arch, "--into", far)
	if code != exitFailed || !strings.Contains(errs, set.ARM64.Layer.Digest.String()) || !strings.Contains(errs, "unchanged") || !strings.Contains(errs, "image example.com/app:v1") {
		t.Fatalf("corrupt import: exit %d, %q", code, errs)
	}
	if after := snapshot(t, far); !reflect.DeepEqual(before, after) {
		t.Fatal("a failed import changed the destination")
	}
}

func TestTagRmGc(t *testing.T) {
	set := testimage.New(t)
	if code, out, errs := ferry(t, "tag", set.Dir, "busybox:1.36", "registry.local:5000/tools/bb:stable"); code != 0 || !strings.Contains(out, "tagged") {
		t.Fatal(out, errs)
	}
	// An unnamed image is named through its digest, as ls shows it.
	if code, out, errs := ferry(t, "tag", set.Dir, "@"+set.Referrer.Digest.String(), "example.com/sbom:1"); code != 0 || !strings.Contains(out, "tagged") {
		t.Fatal(out, errs)
	}
	if code, _, errs := ferry(t, "rm", set.Dir, "example.com/app:v1"); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ := ferry(t, "gc", "--json", set.Dir)
	if code != 0 {
		t.Fatal(out)
	}
	var gc struct {
		Removed []struct{ Digest string }
	}
	json.Unmarshal([]byte(out), &gc)
	if len(gc.Removed) != 7 { // the index and both platforms' manifest, config and layer
		t.Fatalf("gc removed %d blobs: %s", len(gc.Removed), out)
	}
	_, ls, _ := ferry(t, "ls", set.Dir)
	if !strings.Contains(ls, "registry.local:5000/tools/bb") || !strings.Contains(ls, "example.com/sbom") || strings.Contains(ls, "example.com/app") {
		t.Fatalf("after tag/rm:\n%s", ls)
	}
	if code, out, _ := ferry(t, "verify", set.Dir); code != 0 {
		t.Fatalf("layout unsound after gc:\n%s", out)
	}
}

func TestInspect(t *testing.T) {
	set := testimage.New(t)
	code, out, _ := ferry(t, "inspect", set.Dir, "example.com/app:v1", "--platform", "linux/arm64")
	if code != 0 {
		t.Fatal(out)
	}
	var in struct {
		Platform string
		Config   struct{ Architecture string }
		Index    json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatal(err)
	}
	if in.Platform != "linux/arm64" || in.Config.Architecture != "arm64" || len(in.Index) == 0 {
		t.Fatalf("inspect: %s", out)
	}
}

func TestPermute(t *testing.T) {
	app := newApp(nil, nil, nil)
	got := permute(app, []string{"ferry", "import", "a.tar", "--into", "d", "x", "--json", "-"})
	want := []string{"ferry", "import", "--into", "d", "--json", "--", "a.tar", "x", "-"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("permute: %v", got)
	}
}

// TestFailedImportLeavesNoLayout: a failed import into a new or empty
// directory does not leave an empty layout behind.
func TestFailedImportLeavesNoLayout(t *testing.T) {
	set := testimage.New(t)
	os.Remove(set.BlobFile(set.Single.Layer))
	parent := t.TempDir()
	newDir := filepath.Join(parent, "new")
	if code, _, _ := ferry(t, "import", set.Dir, "--into", newDir); code != exitFailed {
		t.Fatalf("import with a missing layer: exit %d", code)
	}
	if _, err := os.Stat(newDir); !os.IsNotExist(err) {
		t.Fatalf("failed import created %s", newDir)
	}
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o755)
	ferry(t, "import", set.Dir, "--into", empty)
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("failed import left %v in an empty directory", ents)
	}
}

// TestExportFormats: each --format gives an archive ferry reads back with
// the same names, and says its format in --json.
func TestExportFormats(t *testing.T) {
	set := testimage.New(t)
	for _, f := range []string{"both", "oci", "docker"} {
		p := filepath.Join(t.TempDir(), f+".tar")
		code, out, stderr := ferry(t, "export", set.Dir, "--to", p, "--format", f, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, stderr)
		}
		var res struct {
			Format string `json:"format"`
			Images []struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"images"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Format != f || !strings.Contains(out, `"format"`) {
			t.Fatalf("%s: --json says format %q (%v)", f, res.Format, err)
		}
		if len(res.Images) == 0 || res.Images[0].Name == "" || !strings.HasPrefix(res.Images[0].Digest, "sha256:") || !strings.Contains(out, `"name"`) {
			t.Fatalf("%s: --json images %s", f, out)
		}
		code, out, stderr = ferry(t, "ls", p)
		if code != 0 || !strings.Contains(out, "docker.io/library/busybox") || !strings.Contains(out, "example.com/app") {
			t.Fatalf("%s: ls exit %d: %s %s", f, code, out, stderr)
		}
	}
}

// TestImportSaysWhenANameMoves: importing an image under a name the
// destination gives another image moves the name, and says so.
func TestImportSaysWhenANameMoves(t *testing.T) {
	set := testimage.New(t)
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, dst := range []string{a, b} {
		if code, _, stderr := ferry(t, "import", set.Dir, "--into", dst); code != 0 {
			t.Fatal(stderr)
		}
	}
	if code, _, stderr := ferry(t, "tag", b, "example.com/app:v1", "busybox:1.36"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr := ferry(t, "import", b, "--into", a, "busybox:1.36", "--json")
	if code != 0 {
		t.Fatal(stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	notes, _ := res["notes"].([]any)
	if len(notes) != 1 || !strings.Contains(notes[0].(string), "docker.io/library/busybox:1.36 moved from "+set.Single.Manifest.Digest.String()+" to "+set.Index.Digest.String()) {
		t.Fatalf("import --json notes: %v", res["notes"])
	}
}
