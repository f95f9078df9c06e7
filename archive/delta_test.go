package archive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

type release struct {
	r1, r2 string
	v2     testimage.Image
	have   *layout.HaveList
	set    *testimage.Set
}

func twoReleases(t *testing.T) *release {
	r := testimage.TwoReleases(t)
	return &release{r1: r.R1, r2: r.R2, v2: r.V2, have: r.Have, set: r.Set}
}

func blobEntries(t *testing.T, p string) []tarEntry {
	var out []tarEntry
	for _, e := range readTar(t, p) {
		if strings.HasPrefix(e.name, "blobs/") && e.hdr.Typeflag == '0' {
			out = append(out, e)
		}
	}
	return out
}

// TestDeltaHoldsExactlyWhatIsMissing: a delta holds every blob of the full
// archive that the have-list does not name, byte for byte and in the same
// order, nothing it names, and one record listing exactly what was left
// out; its index.json names every image and says what it was cut against.
func TestDeltaHoldsExactlyWhatIsMissing(t *testing.T) {
	r := twoReleases(t)
	src := open(t, r.r2)
	full := export(t, src, src.Images, "full.tar", archive.WriteOptions{Format: archive.OCI})
	delta := export(t, src, src.Images, "delta.tar", archive.WriteOptions{Have: r.have})
	var want []tarEntry
	var leftOut []string
	for _, e := range blobEntries(t, full) {
		d := digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(e.name))
		if r.have.Has(ocispec.Descriptor{Digest: d, Size: int64(len(e.body))}) {
			leftOut = append(leftOut, d.String())
			continue
		}
		want = append(want, e)
	}
	got := blobEntries(t, delta)
	if len(got) != len(want)+1 {
		t.Fatalf("delta holds %d blobs, want %d not listed plus the record", len(got), len(want))
	}
	for i, e := range want {
		if got[i+1].name != e.name || !bytes.Equal(got[i+1].body, e.body) {
			t.Fatalf("blob %d: delta has %s, full archive %s", i, got[i+1].name, e.name)
		}
	}
	// Everything release 2 adds travels: the new index, manifest, config, layer.
	if len(want) != 4 {
		t.Errorf("delta carries %d blobs, want the 4 release 2 added", len(want))
	}
	for _, e := range readTar(t, delta) {
		if e.name == "manifest.json" {
			t.Fatal("a delta has a manifest.json: docker would take it for a full archive")
		}
		if e.name == "oci-layout" && !strings.Contains(string(e.body), layout.DeltaLayoutVersion) {
			t.Fatalf("a delta's oci-layout is %s: docker's containerd store would load it as a full image", e.body)
		}
	}
	d, err := open(t, delta).Delta(context.Background())
	if err != nil || d == nil {
		t.Fatalf("Delta() = %v, %v", d, err)
	}
	var rec []string
	for _, l := range d.Sorted() {
		rec = append(rec, l.Digest.String())
	}
	if strings.Join(rec, " ") != strings.Join(sorted(leftOut), " ") {
		t.Errorf("record lists %v, the delta left out %v", rec, leftOut)
	}
	if d.Base.HaveList != r.have.Digest || d.Base.Listed != r.have.Blobs() || d.Base.LeftOut != len(leftOut) {
		t.Errorf("delta-base %+v, want have-list %s listing %d, %d left out", d.Base, r.have.Digest, r.have.Blobs(), len(leftOut))
	}
	if n := len(open(t, delta).Images); n != len(src.Images) {
		t.Errorf("delta's index.json names %d images, want %d", n, len(src.Images))
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "dst")
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return to
}

// TestDeltaImportMatchesFull: importing a delta into the layout its
// have-list came from gives a layout that verifies and is byte-identical
// to importing the full archive, plain and compressed.
func TestDeltaImportMatchesFull(t *testing.T) {
	r := twoReleases(t)
	src := open(t, r.r2)
	ctx := context.Background()
	for _, name := range []string{"x.tar", "x.tar.zst"} {
		full := export(t, src, src.Images, "full-"+name, archive.WriteOptions{})
		delta := export(t, src, src.Images, "delta-"+name, archive.WriteOptions{Have: r.have})
		a, b := copyDir(t, r.r1), copyDir(t, r.r1)
		if _, err := archive.Import(ctx, full, a, archive.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Import(ctx, delta, b, archive.ImportOptions{}); err != nil {
			t.Fatalf("%s: import of the delta: %v", name, err)
		}
		ta, tb := tree(t, a), tree(t, b)
		if len(ta) != len(tb) {
			t.Fatalf("%s: full import has %d files, delta import %d", name, len(ta), len(tb))
		}
		for k, v := range ta {
			if tb[k] != v {
				t.Fatalf("%s: %s differs between the full and the delta import", name, k)
			}
		}
	}
}

// TestDeltaImportRefusesLyingHaveList: a have-list that names a blob the
// target lacks gives a delta without it; importing that delta into the
// target refuses, naming the blob and the image that needs it, and leaves
// the target byte for byte as it was.
func TestDeltaImportRefusesLyingHaveList(t *testing.T) {
	r := twoReleases(t)
	r.have.Add(r.v2.Layer.Digest, r.v2.Layer.Size) // the lie: the far side lacks it
	src := open(t, r.r2)
	for _, name := range []string{"lie.tar", "lie.tar.gz"} {
		delta := export(t, src, src.Images, name, archive.WriteOptions{Have: r.have})
		dst := copyDir(t, r.r1)
		before := tree(t, dst)
		_, err := archive.Import(context.Background(), delta, dst, archive.ImportOptions{})
		var ae *archive.AbsentError
		if !errors.As(err, &ae) || !errors.Is(err, layout.ErrNotFound) {
			t.Fatalf("%s: import of a delta whose base lacks a blob: %v, want an AbsentError", name, err)
		}
		msg := err.Error()
		t.Log(msg)
		if !strings.Contains(msg, r.v2.Layer.Digest.String()) || !strings.Contains(msg, "example.com/app:v2") || !strings.Contains(msg, delta) {
			t.Errorf("error does not name the blob, the image and the archive: %s", msg)
		}
		if len(ae.Blobs) != 1 {
			t.Errorf("%d blobs named absent, want 1: %s", len(ae.Blobs), msg)
		}
		after := tree(t, dst)
		if len(after) != len(before) {
			t.Fatalf("%s: the refused import changed the target: %d files, were %d", name, len(after), len(before))
		}
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("%s: the refused import changed %s", name, k)
			}
		}
	}
}

// TestDeltaRefusesDockerFormat: a delta cannot pose as a docker-save
// archive.
func TestDeltaRefusesDockerFormat(t *testing.T) {
	r := twoReleases(t)
	src := open(t, r.r2)
	_, err := archive.Write(context.Background(), src, src.Images, filepath.Join(t.TempDir(), "d.tar"), archive.WriteOptions{Have: r.have, Format: archive.Docker})
	if err == nil || !strings.Contains(err.Error(), "docker format") {
		t.Fatalf("docker-format delta: %v", err)
	}
}

// TestDeltaImportChecksBaseAgain: a left-out blob the destination holds
// in a corrupt copy (right size, wrong bytes) is read through the same
// verifying copy as the archive's own blobs: the import fails naming it,
// and the destination is as it was.
func TestDeltaImportChecksBaseAgain(t *testing.T) {
	for _, name := range []string{"delta.tar", "delta.tar.zst"} {
		t.Run(name, func(t *testing.T) { deltaOverCorruptBase(t, name) })
	}
}

// deltaOverCorruptBase: the blobs of a stream are hashed as they pass,
// but the ones a delta left out never pass, so they are hashed at the
// destination whether the archive is read in place or streamed.
func deltaOverCorruptBase(t *testing.T, name string) {
	r := twoReleases(t)
	src := open(t, r.r2)
	delta := export(t, src, src.Images, name, archive.WriteOptions{Have: r.have})
	dst := copyDir(t, r.r1)
	set := r.set
	p := filepath.Join(dst, "blobs", "sha256", set.AMD64.Layer.Digest.Encoded())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dst)
	_, err = archive.Import(context.Background(), delta, dst, archive.ImportOptions{})
	if err == nil || !errors.Is(err, layout.ErrDigestMismatch) || !strings.Contains(err.Error(), set.AMD64.Layer.Digest.String()) {
		t.Fatalf("import of a delta over a corrupt base blob: %v", err)
	}
	after := tree(t, dst)
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("the failed import changed %s", k)
		}
	}
	if len(after) != len(before) {
		t.Fatalf("the failed import added files: %d, were %d", len(after), len(before))
	}
}

// TestNoArchiveFromADelta: an export or copy from a delta archive is
// refused: the new archive would be a full one with blobs missing.
func TestNoArchiveFromADelta(t *testing.T) {
	r := twoReleases(t)
	src := open(t, r.r2)
	delta := open(t, export(t, src, src.Images, "delta.tar", archive.WriteOptions{Have: r.have}))
	v2, _ := archive.Select(delta.Images, []string{"example.com/app:v2"})
	_, err := archive.Write(context.Background(), delta, v2, filepath.Join(t.TempDir(), "again.tar"), archive.WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "is a delta archive") {
		t.Fatalf("archive written from a delta: %v", err)
	}
}

// TestDeltaInVolumes: a delta cut into volumes carries its record like a
// single delta does, so the far side tells left out from lost, verifies
// the set and completes it into the same layout as the full import.
func TestDeltaInVolumes(t *testing.T) {
	r := twoReleases(t)
	src := open(t, r.r2)
	ctx := context.Background()
	// Small enough to cut these tiny images, large enough for index.json
	// in the first volume (a compressed volume is planned at its worst).
	for name, size := range map[string]int64{"d.tar": 12 << 10, "d.tar.zst": 16 << 10} {
		t.Run(name, func(t *testing.T) {
			full := export(t, src, src.Images, "full-"+name, archive.WriteOptions{})
			dir := t.TempDir()
			res, err := archive.Write(ctx, src, src.Images, filepath.Join(dir, name), archive.WriteOptions{Have: r.have, VolumeSize: size})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Volumes) < 2 {
				t.Fatalf("the delta was not cut: %v", res.Volumes)
			}
			a, b := copyDir(t, r.r1), copyDir(t, r.r1)
			if _, err := archive.Import(ctx, full, a, archive.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := archive.Import(ctx, dir, b, archive.ImportOptions{}); err != nil {
				t.Fatalf("import of the delta's volumes: %v", err)
			}
			ta, tb := tree(t, a), tree(t, b)
			for k, v := range ta {
				if tb[k] != v {
					t.Fatalf("%s differs between the full import and the delta's", k)
				}
			}
			if len(ta) != len(tb) {
				t.Fatalf("full import has %d files, delta import %d", len(ta), len(tb))
			}
		})
	}
}
