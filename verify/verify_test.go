package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// fixture is a layout with a two-platform index, a single image and a
// referrer, plus the digests the tests corrupt.
type fixture struct {
	dir                  string
	index, amd64, arm64  ocispec.Descriptor
	amd64Layer, arm64Cfg ocispec.Descriptor
	single, singleLayer  ocispec.Descriptor
}

func put(t *testing.T, txn *layout.Txn, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := txn.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

func image(t *testing.T, txn *layout.Txn, arch, body string) (man, cfg, lay ocispec.Descriptor) {
	lay = put(t, txn, ocispec.MediaTypeImageLayer, []byte(body))
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": arch, "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{lay.Digest}}})
	cfg = put(t, txn, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{lay}})
	man = put(t, txn, ocispec.MediaTypeImageManifest, m)
	return
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir()}
	d, err := layout.CreateDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var amdCfg ocispec.Descriptor
	f.amd64, amdCfg, f.amd64Layer = image(t, txn, "amd64", "amd64 layer bytes")
	_ = amdCfg
	f.arm64, f.arm64Cfg, _ = image(t, txn, "arm64", "arm64 layer bytes")
	a, r := f.amd64, f.arm64
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, r}})
	f.index = put(t, txn, ocispec.MediaTypeImageIndex, idx)
	f.single, _, f.singleLayer = image(t, txn, "amd64", "single image layer")
	// A referrer whose subject is the single image.
	empty := put(t, txn, "application/vnd.oci.empty.v1+json", []byte("{}"))
	subj := f.single
	ref, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.sbom", Config: empty, Layers: []ocispec.Descriptor{empty}, Subject: &subj})
	referrer := put(t, txn, ocispec.MediaTypeImageManifest, ref)
	app, _ := layout.ParseRef("example.com/app:v1")
	one, _ := layout.ParseRef("busybox:1.36")
	if err := txn.Commit(nil, []layout.Image{
		{Ref: app, Desc: layout.Annotate(f.index, app)},
		{Ref: one, Desc: layout.Annotate(f.single, one)},
		{Desc: referrer},
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func run(t *testing.T, path string) *verify.Report {
	t.Helper()
	ctx := context.Background()
	src, err := archive.Open(ctx, path, archive.OpenOptions{})
	rep := &verify.Report{Path: path}
	if err != nil {
		rep.Add(verify.Problem{Kind: verify.KindOf(err), Message: err.Error()})
		return rep.Finish()
	}
	defer src.Close()
	for _, p := range src.Problems() {
		rep.Add(verify.Problem{Kind: verify.KindOf(p), Message: p.Error()})
	}
	return verify.Check(ctx, src, src.Images, rep, verify.Options{})
}

func blobFile(dir string, d ocispec.Descriptor) string {
	return filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded())
}

func hasProblem(r *verify.Report, kind string, d digest.Digest) bool {
	for _, p := range r.Problems {
		if p.Kind == kind && (d == "" || strings.Contains(p.Message, string(d)) || p.Digest == string(d)) {
			return true
		}
	}
	return false
}

func TestSoundLayout(t *testing.T) {
	f := newFixture(t)
	r := run(t, f.dir)
	if !r.OK || len(r.Problems) != 0 {
		t.Fatalf("sound layout reported problems: %+v", r.Problems)
	}
	if r.Totals.Images != 3 || r.Totals.Blobs < 10 {
		t.Fatalf("totals: %+v", r.Totals)
	}
	got := map[string]verify.ImageReport{}
	for _, im := range r.Images {
		got[im.Name] = im
	}
	if p := got["example.com/app:v1"].Platforms; strings.Join(p, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("index platforms %v", p)
	}
	if p := got["docker.io/library/busybox:1.36"].Platforms; strings.Join(p, ",") != "linux/amd64" {
		t.Fatalf("single image platform from config: %v", p)
	}
}

func TestCorruptLayerIsNamed(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(blobFile(f.dir, f.amd64Layer), []byte("amd64 layer bytez"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, f.dir)
	if r.OK || !hasProblem(r, verify.KindMismatch, f.amd64Layer.Digest) {
		t.Fatalf("corrupt layer not reported: %+v", r.Problems)
	}
	for _, im := range r.Images {
		if im.Name == "example.com/app:v1" && im.Status != "bad" {
			t.Fatalf("image with a corrupt layer has status %q", im.Status)
		}
	}
}

func TestSizeAndMissing(t *testing.T) {
	f := newFixture(t)
	os.WriteFile(blobFile(f.dir, f.singleLayer), []byte("single image layer+"), 0o644)
	os.Remove(blobFile(f.dir, f.arm64Cfg))
	os.Remove(blobFile(f.dir, f.amd64Layer))
	r := run(t, f.dir)
	if !hasProblem(r, verify.KindSize, "") {
		t.Fatalf("size problem not reported: %+v", r.Problems)
	}
	// Both platforms of the index lost content: nothing to run, a problem.
	if !hasProblem(r, verify.KindMissing, f.amd64Layer.Digest) {
		t.Fatalf("missing layer not reported: %+v", r.Problems)
	}
}

func TestSparseIndexIsAWarning(t *testing.T) {
	f := newFixture(t)
	os.Remove(blobFile(f.dir, f.arm64))
	r := run(t, f.dir)
	if !r.OK {
		t.Fatalf("sparse index must not fail verify: %+v", r.Problems)
	}
	for _, im := range r.Images {
		if im.Name == "example.com/app:v1" {
			if im.Status != "sparse" || len(im.Incomplete) != 1 || !strings.HasPrefix(im.Incomplete[0], "linux/arm64") {
				t.Fatalf("sparse image report: %+v", im)
			}
		}
	}
}

func TestUnreferencedAndSubject(t *testing.T) {
	f := newFixture(t)
	extra := []byte("stray")
	os.WriteFile(filepath.Join(f.dir, "blobs", "sha256", digest.FromBytes(extra).Encoded()), extra, 0o644)
	os.Remove(blobFile(f.dir, f.single))
	r := run(t, f.dir)
	// The stray blob, and the config and layer the removed manifest used.
	if r.Totals.Unreferenced != 3 {
		t.Fatalf("unreferenced count %d", r.Totals.Unreferenced)
	}
	var subj, stray bool
	for _, w := range r.Warnings {
		subj = subj || w.Kind == verify.KindSubject
		stray = stray || (w.Kind == verify.KindUnreferenced && w.Digest == digest.FromBytes(extra).String())
	}
	if !stray {
		t.Fatalf("stray blob not listed: %+v", r.Warnings)
	}
	if !subj {
		t.Fatalf("referrer with absent subject not warned: %+v", r.Warnings)
	}
	if !hasProblem(r, verify.KindMissing, f.single.Digest) {
		t.Fatalf("missing single manifest not a problem: %+v", r.Problems)
	}
}

func TestArchivesAgreeWithDirectory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, err := archive.Open(ctx, f.dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, name := range []string{"a.tar", "a.tar.gz", "a.tar.zst"} {
		p := filepath.Join(t.TempDir(), name)
		if _, err := archive.Write(ctx, src, src.Images, p, archive.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		r := run(t, p)
		if !r.OK || r.Totals.Images != 3 {
			t.Fatalf("%s: %+v %+v", name, r.Totals, r.Problems)
		}
	}
}

func TestDiffIDCountMismatch(t *testing.T) {
	dir := t.TempDir()
	d, _ := layout.CreateDir(dir)
	defer d.Close()
	txn := d.Begin()
	lay := put(t, txn, ocispec.MediaTypeImageLayer, []byte("x"))
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}})
	cfg := put(t, txn, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{lay}})
	man := put(t, txn, ocispec.MediaTypeImageManifest, m)
	ref, _ := layout.ParseRef("x:1")
	txn.Commit(nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(man, ref)}})
	r := run(t, dir)
	if r.OK || !hasProblem(r, verify.KindInvalid, "") {
		t.Fatalf("diff_ids/layers mismatch not reported: %+v", r.Problems)
	}
}
