package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// legacyArchive is a docker ≤24 style save of two images that share a
// base layer, stored twice under different names (and once as a symlink
// when link is set), written plain or gzip-compressed.
func legacyArchive(t *testing.T, gz, link bool) (string, digest.Digest) {
	t.Helper()
	base := testimage.LayerTar("base.txt", "shared base layer")
	top := testimage.LayerTar("top.txt", "top layer")
	cfg := func(layers ...[]byte) []byte {
		var ids []digest.Digest
		for _, l := range layers {
			ids = append(ids, digest.FromBytes(l))
		}
		b, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
		return b
	}
	c1, c2 := cfg(base), cfg(base, top)
	files := []struct {
		name string
		body []byte
		link string
	}{
		{name: "a/layer.tar", body: base},
		{name: "b/layer.tar", body: base},
		{name: "c/layer.tar", body: top},
		{name: digest.FromBytes(c1).Encoded() + ".json", body: c1},
		{name: digest.FromBytes(c2).Encoded() + ".json", body: c2},
	}
	if link {
		files[1] = struct {
			name string
			body []byte
			link string
		}{name: "b/layer.tar", link: "../a/layer.tar"}
	}
	man, _ := json.Marshal([]map[string]any{
		{"Config": digest.FromBytes(c1).Encoded() + ".json", "RepoTags": []string{"base:1"}, "Layers": []string{"a/layer.tar"}},
		{"Config": digest.FromBytes(c2).Encoded() + ".json", "RepoTags": []string{"registry.example.com/app:2", "app:latest"}, "Layers": []string{"b/layer.tar", "c/layer.tar"}},
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if f.link != "" {
			tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeSymlink, Linkname: f.link})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write(f.body)
	}
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(man)), Typeflag: tar.TypeReg})
	tw.Write(man)
	tw.Close()
	out := buf.Bytes()
	name := "legacy.tar"
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(out)
		zw.Close()
		out, name = z.Bytes(), "legacy.tar.gz"
	}
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, out, 0o644)
	return p, digest.FromBytes(c2)
}

// TestLegacyDockerConversion imports docker ≤24 archives in place and
// streamed, with a duplicated and a symlinked layer: the config (image ID)
// and layers are kept byte for byte and the names come from RepoTags.
func TestLegacyDockerConversion(t *testing.T) {
	for _, tc := range []struct{ gz, link bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		p, cfg2 := legacyArchive(t, tc.gz, tc.link)
		dst := filepath.Join(t.TempDir(), "dst")
		res, err := archive.Import(context.Background(), p, dst, archive.ImportOptions{})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if res.Format != "docker-archive" || len(res.Images) != 3 || !strings.Contains(strings.Join(res.Notes, "\n"), cfg2.String()) {
			t.Fatalf("%+v: %+v", tc, res)
		}
		src := open(t, dst)
		names := map[string]bool{}
		for _, im := range src.Images {
			names[im.Name()] = true
		}
		for _, n := range []string{"docker.io/library/base:1", "registry.example.com/app:2", "docker.io/library/app:latest"} {
			if !names[n] {
				t.Fatalf("%+v: %s missing from %v", tc, n, names)
			}
		}
		if _, err := os.Stat(filepath.Join(dst, "blobs", "sha256", cfg2.Encoded())); err != nil {
			t.Fatalf("config not kept under its image ID: %v", err)
		}
	}
}

// TestLegacyDiffIDMismatch: a layer whose content does not match the
// config's diff_ids fails, naming the layer and both digests.
func TestLegacyDiffIDMismatch(t *testing.T) {
	p, _ := legacyArchive(t, false, false)
	b, _ := os.ReadFile(p)
	i := bytes.Index(b, []byte("top layer"))
	b[i] = 'T'
	os.WriteFile(p, b, 0o644)
	for _, path := range []string{p} {
		_, err := archive.Import(context.Background(), path, filepath.Join(t.TempDir(), "d"), archive.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), "c/layer.tar") || !strings.Contains(err.Error(), "diff_ids[1]") {
			t.Fatalf("want a DiffID error naming c/layer.tar, got %v", err)
		}
	}
}
