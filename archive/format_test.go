package archive_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestFormats: --format oci leaves manifest.json out and keeps every
// digest; --format docker writes manifest.json and exactly the blobs it
// names, for one platform, and what a reader rebuilds keeps the names and
// image IDs (config digests).
func TestFormats(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	entries := func(p string) map[string][]byte {
		m := map[string][]byte{}
		for _, e := range readTar(t, p) {
			m[e.name] = e.body
		}
		return m
	}

	oci := entries(export(t, src, src.Images, "oci.tar", archive.WriteOptions{Format: archive.OCI}))
	if _, ok := oci["manifest.json"]; ok {
		t.Fatal("oci format wrote manifest.json")
	}
	if oci["index.json"] == nil || oci["oci-layout"] == nil || len(blobsOf(oci)) != set.TotalBlobs {
		t.Fatalf("oci format: index.json, oci-layout or blobs missing (%d blobs)", len(blobsOf(oci)))
	}

	p := filepath.Join(t.TempDir(), "docker.tar")
	res, err := archive.Write(context.Background(), src, src.Images, p, archive.WriteOptions{Format: archive.Docker, Platforms: mustPlatforms(t, "linux/arm64")})
	if err != nil {
		t.Fatal(err)
	}
	dk := entries(p)
	if dk["index.json"] != nil || dk["oci-layout"] != nil {
		t.Fatal("docker format wrote OCI layout files")
	}
	var items []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(dk["manifest.json"], &items); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, it := range items {
		want[it.Config] = true
		for _, l := range it.Layers {
			want[l] = true
		}
	}
	got := blobsOf(dk)
	if len(got) != len(want) {
		t.Fatalf("docker format holds %d blobs, manifest.json names %d", len(got), len(want))
	}
	for n := range want {
		if dk[n] == nil {
			t.Fatalf("manifest.json names %s, which is not in the archive", n)
		}
	}
	// The app index gives its arm64 image only; --platform narrows
	// multi-platform images, so single-platform busybox stays; the
	// referrer is no docker image and is left out.
	has := func(d ocispec.Descriptor) bool { return dk["blobs/sha256/"+d.Digest.Encoded()] != nil }
	if !has(set.ARM64.Config) || !has(set.ARM64.Layer) || !has(set.Single.Config) || has(set.AMD64.Config) || has(set.AMD64.Layer) || has(set.Index) {
		t.Fatal("docker format at linux/arm64 did not carry exactly the arm64 app and busybox")
	}
	if len(res.Images) != 3 || len(res.Notes) != 1 {
		t.Fatalf("result images %v, notes %v", res.Images, res.Notes)
	}

	// A reader rebuilds each image under its names with the same image ID.
	back := open(t, p)
	ids := map[string]string{}
	for _, im := range back.Images {
		n, err := layout.FetchNode(context.Background(), back, im.Desc)
		if err != nil || n.Manifest == nil {
			t.Fatalf("read back %s: %v", im.Name(), err)
		}
		ids[im.Name()] = n.Manifest.Config.Digest.String()
	}
	want = map[string]bool{
		"example.com/app:v1:" + set.ARM64.Config.Digest.String():                true,
		"docker.io/library/busybox:1.36:" + set.Single.Config.Digest.String():   true,
		"docker.io/library/busybox:latest:" + set.Single.Config.Digest.String(): true,
	}
	for name, id := range ids {
		if !want[name+":"+id] {
			t.Fatalf("read back %s with image ID %s; want one of %v", name, id, want)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("read back %v", ids)
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]archive.Format{"": archive.Both, "both": archive.Both, "oci": archive.OCI, "docker": archive.Docker} {
		if f, err := archive.ParseFormat(s); err != nil || f != want {
			t.Fatalf("%q: %v %v", s, f, err)
		}
	}
	if _, err := archive.ParseFormat("tarball"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func blobsOf(m map[string][]byte) []string {
	var out []string
	for n, b := range m {
		if len(n) > len("blobs/sha256/") && n[:13] == "blobs/sha256/" && b != nil {
			out = append(out, n)
		}
	}
	return out
}

func mustPlatforms(t *testing.T, s string) []ocispec.Platform {
	t.Helper()
	p, err := layout.ParsePlatforms(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSharedTagNote: two repositories' images under one tag get a note,
// because ref.name alone cannot tell them apart; one image under two
// names does not.
func TestSharedTagNote(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	r, _ := layout.ParseRef("example.com/app:latest")
	images := append(append([]layout.Image(nil), src.Images...), layout.Image{Ref: r, Desc: layout.Annotate(set.Index, r)})
	res, err := archive.Write(context.Background(), src, images, filepath.Join(t.TempDir(), "a.tar"), archive.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, n := range res.Notes {
		if strings.Contains(n, `tag "latest"`) {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "example.com/app:latest") || !strings.Contains(notes[0], "docker.io/library/busybox:latest") {
		t.Fatalf("notes %v", res.Notes)
	}
	res, _ = archive.Write(context.Background(), src, src.Images, filepath.Join(t.TempDir(), "b.tar"), archive.WriteOptions{})
	if len(res.Notes) != 0 {
		t.Fatalf("unexpected notes %v", res.Notes)
	}
}

// TestWriteIntoMissingDirectory names the directory, not a temp file.
func TestWriteIntoMissingDirectory(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	dir := filepath.Join(t.TempDir(), "nodir")
	_, err := archive.Write(context.Background(), src, src.Images, filepath.Join(dir, "a.tar"), archive.WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "directory "+dir+" does not exist") || strings.Contains(err.Error(), ".tmp-") {
		t.Fatalf("got %v", err)
	}
}
