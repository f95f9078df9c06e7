package archive_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/fixtures"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/verify"
)

// noOSLayout is a layout of one image whose config names no os or
// architecture, with a filesystem layer (layerMT) or a signature payload.
func noOSLayout(t *testing.T, layerMT string) string {
	dir := t.TempDir()
	put := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
		os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), b, 0o644)
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	layer := testimage.LayerTar("a.txt", "a")
	ld := put(layer)
	ld.MediaType = layerMT
	cfg, _ := json.Marshal(map[string]any{"architecture": "", "os": "", "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(layer)}}})
	cd := put(cfg)
	cd.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md := put(mb)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "example.com/app:1"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return dir
}

// Import and verify judge a config by the same rule: an image with a
// filesystem layer and no os/architecture is refused by both (import took
// it before), a signature with none is accepted by both, with a note.
func TestConfigJudgedAlike(t *testing.T) {
	ctx := context.Background()
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var sig string
	for _, f := range fx {
		if f.Name == "cosign-signature" {
			sig = f.Path
		}
	}
	for _, c := range []struct {
		name, path string
		ok         bool
		says       string
	}{
		{"runnable image without os", noOSLayout(t, ocispec.MediaTypeImageLayer), false, "lacks os or architecture"},
		{"signature layer without os", noOSLayout(t, "application/vnd.dev.cosign.simplesigning.v1+json"), true, "no filesystem layer"},
		{"cosign signature archive", sig, true, "no filesystem layer"},
	} {
		res, err := archive.Import(ctx, c.path, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{})
		if (err == nil) != c.ok {
			t.Fatalf("%s: import: %v", c.name, err)
		}
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = strings.Join(res.Notes, "\n")
		}
		if !strings.Contains(got, c.says) {
			t.Errorf("%s: import says %q, want %q", c.name, got, c.says)
		}
		src, err := archive.Open(ctx, c.path, archive.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep := verify.Check(ctx, src, src.Images, nil, verify.Options{})
		src.Close()
		all := strings.Join(rep.Notes, "\n")
		for _, p := range rep.Problems {
			all += "\n" + p.Message
		}
		if rep.OK != c.ok || !strings.Contains(all, c.says) {
			t.Errorf("%s: verify ok=%v: %s", c.name, rep.OK, all)
		}
	}
}

// TestSignatureNotInManifestJSON: an image config does not make a docker
// image: a signature's payload layer must stay out of manifest.json, or
// docker load would try to unpack it; the OCI side keeps it.
func TestSignatureNotInManifestJSON(t *testing.T) {
	src := open(t, noOSLayout(t, "application/vnd.dev.cosign.simplesigning.v1+json"))
	p := export(t, src, src.Images, "sig.tar", archive.WriteOptions{})
	names := map[string]bool{}
	for _, e := range readTar(t, p) {
		names[e.name] = true
		if e.name == "manifest.json" && strings.TrimSpace(string(e.body)) != "[]" {
			t.Errorf("manifest.json lists the signature: %s", e.body)
		}
	}
	if !names["index.json"] {
		t.Fatal("the OCI side of the archive is missing")
	}
	back := open(t, p)
	if len(back.Images) != 1 || back.Images[0].Desc.Digest != src.Images[0].Desc.Digest {
		t.Fatalf("the signature did not survive the archive: %+v", back.Images)
	}
}
