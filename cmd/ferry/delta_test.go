package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// deltaOfReleases exports release 2 against release 1's have-list.
func deltaOfReleases(t *testing.T, names ...string) (*testimage.Releases, string) {
	t.Helper()
	r := testimage.TwoReleases(t)
	have := filepath.Join(t.TempDir(), "have.json")
	f, err := os.Create(have)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Have.Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "delta.tar")
	if code, _, stderr := ferry(t, append([]string{"export", r.R2, "--to", out, "--have", have}, names...)...); code != 0 {
		t.Fatalf("export --have: %d %s", code, stderr)
	}
	return r, out
}

type deltaReport struct {
	OK       bool `json:"ok"`
	Problems []struct {
		Kind, Digest, Image, Message string
	} `json:"problems"`
	Delta *struct {
		HaveList string `json:"haveList"`
		Expected []struct {
			Digest, Status string
		} `json:"expected"`
	} `json:"delta"`
	Totals struct{ Unreferenced int } `json:"totals"`
}

func verifyJSON(t *testing.T, args ...string) (int, deltaReport) {
	t.Helper()
	code, stdout, stderr := ferry(t, append([]string{"verify", "--json"}, args...)...)
	var rep deltaReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v: %s %s", err, stdout, stderr)
	}
	return code, rep
}

// TestVerifyDelta: a delta verifies on its own with each left-out blob
// expected at the target; against a layout that holds them, each is
// present; against one that lacks one, that blob is a problem naming it.
// A blob lost from the delta itself stays a problem whatever the record.
func TestVerifyDelta(t *testing.T) {
	r, delta := deltaOfReleases(t)
	code, rep := verifyJSON(t, delta)
	if code != 0 || !rep.OK || rep.Delta == nil || len(rep.Delta.Expected) != 12 || rep.Totals.Unreferenced != 0 {
		t.Fatalf("verify of a delta alone: exit %d, %+v", code, rep)
	}
	for _, e := range rep.Delta.Expected {
		if e.Status != "expected at the target" {
			t.Errorf("%s: %s", e.Digest, e.Status)
		}
	}
	code, rep = verifyJSON(t, delta, "--against", r.R1)
	if code != 0 || !rep.OK {
		t.Fatalf("verify --against the base: exit %d, %+v", code, rep)
	}
	for _, e := range rep.Delta.Expected {
		if e.Status != "present at the target" {
			t.Errorf("%s: %s", e.Digest, e.Status)
		}
	}
	full := filepath.Join(t.TempDir(), "r1.tar")
	if code, _, stderr := ferry(t, "export", r.R1, "--to", full); code != 0 {
		t.Fatal(stderr)
	}
	if code, rep = verifyJSON(t, delta, "--against", full); code != 0 || !rep.OK {
		t.Fatalf("verify --against a full archive of the base: exit %d, %+v", code, rep)
	}
	lacking := copyLayout(t, r.R1)
	lost := r.Set.AMD64.Layer.Digest
	if err := os.Remove(filepath.Join(lacking, "blobs", "sha256", lost.Encoded())); err != nil {
		t.Fatal(err)
	}
	code, rep = verifyJSON(t, delta, "--against", lacking)
	if code != 1 || rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Digest != lost.String() || rep.Problems[0].Kind != "missing" {
		t.Fatalf("verify --against a target lacking %s: exit %d, %+v", lost, code, rep)
	}
	if !strings.Contains(rep.Problems[0].Message, lacking) || rep.Problems[0].Image == "" {
		t.Errorf("problem does not name the target and the image: %+v", rep.Problems[0])
	}
	// A registry target (one repository): a HEAD per left-out blob, for a
	// delta of app:v2 alone, which leaves out the amd64 image of v1.
	r, delta = deltaOfReleases(t, "example.com/app:v2")
	reg := regtest.Start(t)
	if code, _, stderr := ferry(t, "push", r.R1, "example.com/app:v1", "--to", reg.Host); code != 0 {
		t.Fatalf("push: %s", stderr)
	}
	code, rep = verifyJSON(t, delta, "--against", reg.Host+"/app")
	if code != 0 || !rep.OK {
		t.Fatalf("verify --against a registry holding the base: exit %d, %+v", code, rep)
	}
	code, rep = verifyJSON(t, delta, "--against", reg.Host+"/other")
	if code != 1 || len(rep.Problems) != 3 {
		t.Fatalf("verify --against an empty repository: exit %d, %+v", code, rep)
	}
}

// TestVerifyDeltaLostBlob: a blob the delta should carry but lost is a
// problem, not "expected": the record tells the two apart.
func TestVerifyDeltaLostBlob(t *testing.T) {
	r, delta := deltaOfReleases(t)
	stripped := filepath.Join(t.TempDir(), "stripped.tar")
	name := "blobs/sha256/" + r.V2.Layer.Digest.Encoded()
	copyTarWithout(t, delta, stripped, name)
	code, rep := verifyJSON(t, stripped)
	if code != 1 || rep.OK {
		t.Fatalf("a delta that lost %s verifies: %+v", r.V2.Layer.Digest, rep)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Digest == r.V2.Layer.Digest.String() && p.Kind == "missing")
	}
	if !found {
		t.Fatalf("lost layer not reported missing: %+v", rep.Problems)
	}
}

func copyLayout(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return to
}

// copyTarWithout copies the tar from into to, leaving out the entry skip.
func copyTarWithout(t *testing.T, from, to, skip string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == skip {
			continue
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDeltaWithPlatform: a delta cut with --platform is sparse by
// choice: the platforms it left out are a warning, as in a full archive,
// not a problem; its record says which they were.
func TestVerifyDeltaWithPlatform(t *testing.T) {
	r := testimage.TwoReleases(t)
	have := filepath.Join(t.TempDir(), "have.json")
	f, _ := os.Create(have)
	if err := r.Have.Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "arm64.tar")
	if code, _, stderr := ferry(t, "export", r.R2, r.V2Ref, "--to", out, "--have", have, "--platform", "linux/arm64"); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	code, stdout, _ := ferry(t, "verify", "--json", out)
	var rep struct {
		OK       bool
		Problems []any
		Warnings []struct{ Kind string }
	}
	json.Unmarshal([]byte(stdout), &rep)
	if code != 0 || !rep.OK || len(rep.Warnings) != 1 || rep.Warnings[0].Kind != "sparse" {
		t.Fatalf("verify of a --platform delta: exit %d, %s", code, stdout)
	}
}

// TestImportDeltaCLI: ferry import of a delta into its base completes it;
// into a layout that lacks a left-out blob it exits 1, names the blob and
// the image, and changes nothing.
func TestImportDeltaCLI(t *testing.T) {
	r, delta := deltaOfReleases(t)
	ok := copyLayout(t, r.R1)
	code, stdout, stderr := ferry(t, "import", delta, "--into", ok)
	if code != 0 || !strings.Contains(stdout, "delta archive cut against have-list") {
		t.Fatalf("import of a delta into its base: exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := ferry(t, "verify", ok); code != 0 {
		t.Fatalf("the completed layout does not verify: %s", stderr)
	}
	lacking := copyLayout(t, r.R1)
	lost := r.Set.AMD64.Layer.Digest
	os.Remove(filepath.Join(lacking, "blobs", "sha256", lost.Encoded()))
	before := snapshot(t, lacking)
	code, _, stderr = ferry(t, "import", delta, "--into", lacking)
	if code != 1 || !strings.Contains(stderr, lost.String()) || !strings.Contains(stderr, r.V2Ref) || !strings.Contains(stderr, "nothing was written") {
		t.Fatalf("import of a delta into a layout lacking %s: exit %d: %s", lost, code, stderr)
	}
	after := snapshot(t, lacking)
	if len(after) != len(before) {
		t.Fatalf("the refused import changed the layout: %d files, were %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("the refused import changed %s", k)
		}
	}
}
