package verify_test

import (
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
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

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

func hasProblem(r *verify.Report, kind string, d digest.Digest) bool {
	for _, p := range r.Problems {
		if p.Kind == kind && (d == "" || strings.Contains(p.Message, string(d)) || p.Digest == string(d)) {
			return true
		}
	}
	return false
}

func TestSoundLayout(t *testing.T) {
	f := testimage.New(t)
	r := run(t, f.Dir)
	if !r.OK || len(r.Problems) != 0 {
		t.Fatalf("sound layout reported problems: %+v", r.Problems)
	}
	if r.Totals.Images != 4 || r.Totals.Blobs != f.TotalBlobs {
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
	f := testimage.New(t)
	b := mustRead(t, f.BlobFile(f.AMD64.Layer))
	b[len(b)/2] ^= 1 // same size, other content
	if err := os.WriteFile(f.BlobFile(f.AMD64.Layer), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, f.Dir)
	if r.OK || !hasProblem(r, verify.KindMismatch, f.AMD64.Layer.Digest) {
		t.Fatalf("corrupt layer not reported: %+v", r.Problems)
	}
	for _, im := range r.Images {
		if im.Name == "example.com/app:v1" && im.Status != "bad" {
			t.Fatalf("image with a corrupt layer has status %q", im.Status)
		}
	}
}

func TestSizeAndMissing(t *testing.T) {
	f := testimage.New(t)
	os.WriteFile(f.BlobFile(f.Single.Layer), append(mustRead(t, f.BlobFile(f.Single.Layer)), 0), 0o644)
	os.Remove(f.BlobFile(f.ARM64.Config))
	os.Remove(f.BlobFile(f.AMD64.Layer))
	r := run(t, f.Dir)
	if !hasProblem(r, verify.KindSize, "") {
		t.Fatalf("size problem not reported: %+v", r.Problems)
	}
	// Both platforms of the index lost content: nothing to run, a problem.
	if !hasProblem(r, verify.KindMissing, f.AMD64.Layer.Digest) {
		t.Fatalf("missing layer not reported: %+v", r.Problems)
	}
}

func TestSparseIndexIsAWarning(t *testing.T) {
	f := testimage.New(t)
	os.Remove(f.BlobFile(f.ARM64.Manifest))
	r := run(t, f.Dir)
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
	f := testimage.New(t)
	extra := []byte("stray")
	os.WriteFile(filepath.Join(f.Dir, "blobs", "sha256", digest.FromBytes(extra).Encoded()), extra, 0o644)
	os.Remove(f.BlobFile(f.Single.Manifest))
	r := run(t, f.Dir)
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
	if !hasProblem(r, verify.KindMissing, f.Single.Manifest.Digest) {
		t.Fatalf("missing single manifest not a problem: %+v", r.Problems)
	}
}

func TestArchivesAgreeWithDirectory(t *testing.T) {
	f := testimage.New(t)
	ctx := context.Background()
	src, err := archive.Open(ctx, f.Dir, archive.OpenOptions{})
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
		if !r.OK || r.Totals.Images != 4 {
			t.Fatalf("%s: %+v %+v", name, r.Totals, r.Problems)
		}
	}
}

func TestDiffIDCountMismatch(t *testing.T) {
	dir := t.TempDir()
	d, _ := layout.CreateDir(context.Background(), dir)
	defer d.Close()
	txn := d.Begin()
	lay := testimage.Put(t, txn, ocispec.MediaTypeImageLayer, []byte("x"))
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}})
	cfg := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{lay}})
	man := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, m)
	ref, _ := layout.ParseRef("x:1")
	txn.Commit(context.Background(), nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(man, ref)}})
	r := run(t, dir)
	if r.OK || !hasProblem(r, verify.KindInvalid, "") {
		t.Fatalf("diff_ids/layers mismatch not reported: %+v", r.Problems)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
