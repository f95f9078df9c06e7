package sync_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// TestNestedIncompletePlatform: an index whose only entry is a nested
// index, under which linux/arm64 lacks its layer while linux/amd64 is
// whole. Import, verify and push must all name linux/arm64 and its digest
// as the incomplete platform: one answer (layout.Graph.Entries), not
// three walks that looked to different depths.
func TestNestedIncompletePlatform(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	amd := testimage.Build(t, txn, "amd64", "whole")
	arm := testimage.Build(t, txn, "arm64", "its layer will be absent")
	a, r := amd.Manifest, arm.Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	v2 := specs.Versioned{SchemaVersion: 2}
	inner, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, r}})
	innerD := testimage.Put(t, txn, ocispec.MediaTypeImageIndex, inner)
	outer, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{innerD}})
	outerD := testimage.Put(t, txn, ocispec.MediaTypeImageIndex, outer)
	ref, _ := layout.ParseRef("example.com/nested:v1")
	if err := txn.Commit(ctx, nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(outerD, ref)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", arm.Layer.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	want := []string{"linux/arm64", arm.Manifest.Digest.String()}
	mentions := func(what, s string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("%s does not name %s: %s", what, w, s)
			}
		}
		if strings.Contains(s, "linux/amd64 ("+amd.Manifest.Digest.String()) {
			t.Errorf("%s calls the whole linux/amd64 incomplete: %s", what, s)
		}
	}

	res, err := archive.Import(ctx, dir, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{})
	if err != nil {
		t.Fatalf("import of an index with one complete platform: %v", err)
	}
	mentions("import", strings.Join(res.Images[0].Missing, " "))

	src, err := archive.Open(ctx, dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rep := verify.Check(ctx, src, src.Images, nil, verify.Options{})
	if !rep.OK || rep.Images[0].Status != "sparse" {
		t.Fatalf("verify: ok=%v status=%s problems=%+v", rep.OK, rep.Images[0].Status, rep.Problems)
	}
	var warned []string
	for _, w := range rep.Warnings {
		warned = append(warned, w.Message)
	}
	mentions("verify", strings.Join(warned, " "))
	if strings.Join(rep.Images[0].Incomplete, ",") != "linux/arm64" {
		t.Errorf("verify: incomplete platforms %v, want linux/arm64", rep.Images[0].Incomplete)
	}
	if strings.Join(rep.Images[0].Platforms, ",") != "linux/amd64" {
		t.Errorf("verify: complete platforms %v, want linux/amd64", rep.Images[0].Platforms)
	}

	reg := regtest.Start(t)
	_, err = sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host})
	if err == nil {
		t.Fatal("push of an index whose nested index is incomplete succeeded")
	}
	mentions("push", err.Error())
}
