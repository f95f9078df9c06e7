package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

func open(t *testing.T, p string) *archive.Source {
	t.Helper()
	src, err := archive.Open(context.Background(), p, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func export(t *testing.T, src *archive.Source, images []layout.Image, name string, opts archive.WriteOptions) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if _, err := archive.Write(context.Background(), src, images, p, opts); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeterministic: the same images give byte-identical archives, in
// every compression and whatever order the images are given in.
func TestDeterministic(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	rev := append([]layout.Image(nil), src.Images...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	for _, name := range []string{"a.tar", "a.tar.gz", "a.tar.zst"} {
		a, _ := os.ReadFile(export(t, src, src.Images, name, archive.WriteOptions{}))
		b, _ := os.ReadFile(export(t, src, rev, name, archive.WriteOptions{}))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("%s: two exports of the same images differ", name)
		}
	}
}

type tarEntry struct {
	name string
	hdr  *tar.Header
	body []byte
}

func readTar(t *testing.T, p string) []tarEntry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".zst") {
		zr, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h.Name, h, b})
	}
}

// TestLayoutOfArchive checks the dual format: OCI layout files and
// manifest.json first, metadata blobs before layers, only plain files and
// directories, full names in index.json and familiar RepoTags.
func TestLayoutOfArchive(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	ents := readTar(t, export(t, src, src.Images, "a.tar.zst", archive.WriteOptions{}))
	if ents[0].name != "oci-layout" || ents[1].name != "index.json" || ents[2].name != "manifest.json" {
		t.Fatalf("first entries: %s %s %s", ents[0].name, ents[1].name, ents[2].name)
	}
	layers := map[string]bool{}
	for _, im := range []testimage.Image{set.AMD64, set.ARM64, set.Single} {
		layers["blobs/sha256/"+im.Layer.Digest.Encoded()] = true
	}
	seenLayer := false
	for _, e := range ents {
		if e.hdr.Typeflag != tar.TypeReg && e.hdr.Typeflag != tar.TypeDir {
			t.Fatalf("%s: type %c", e.name, e.hdr.Typeflag)
		}
		if e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.ModTime.Unix() != 0 {
			t.Fatalf("%s: non-deterministic header %+v", e.name, e.hdr)
		}
		if layers[e.name] {
			seenLayer = true
		} else if seenLayer && e.hdr.Typeflag == tar.TypeReg {
			t.Fatalf("metadata %s after a layer", e.name)
		}
	}
	var idx ocispec.Index
	json.Unmarshal(ents[1].body, &idx)
	names := map[string]string{}
	for _, d := range idx.Manifests {
		names[d.Annotations[layout.AnnotationImageName]] = d.Annotations[ocispec.AnnotationRefName]
	}
	if names["example.com/app:v1"] != "v1" || names["docker.io/library/busybox:1.36"] != "1.36" {
		t.Fatalf("index.json names: %v", names)
	}
	if idx.Annotations[archive.AnnotationFormat] != "1" {
		t.Fatalf("index annotations: %v", idx.Annotations)
	}
	var items []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(ents[2].body, &items); err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, it := range items {
		for _, rt := range it.RepoTags {
			tags[rt] = true
		}
		if !strings.HasPrefix(it.Config, "blobs/sha256/") || len(it.Layers) != 1 {
			t.Fatalf("manifest.json item %+v", it)
		}
	}
	if !tags["docker.io/library/busybox:1.36"] || !tags["docker.io/library/busybox:latest"] || !tags["example.com/app:v1"] {
		t.Fatalf("RepoTags %v", tags)
	}
}

// TestRoundTrip: export, then import through every reader (in place,
// streamed, stdin-like), and the digests and names come back unchanged.
func TestRoundTrip(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	want := map[string]string{}
	for _, im := range src.Images {
		want[im.Name()] = im.Desc.Digest.String()
	}
	for _, name := range []string{"a.tar", "a.tar.gz", "a.tar.zst"} {
		p := export(t, src, src.Images, name, archive.WriteOptions{})
		dst := filepath.Join(t.TempDir(), "dst")
		res, err := archive.Import(context.Background(), p, dst, archive.ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Blobs != set.TotalBlobs {
			t.Fatalf("%s: %d blobs imported, want %d", name, res.Blobs, set.TotalBlobs)
		}
		got := map[string]string{}
		for _, im := range open(t, dst).Images {
			got[im.Name()] = im.Desc.Digest.String()
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %s came back as %q, want %s", name, k, got[k], v)
			}
		}
	}
}

// TestPlatformSubset keeps the index byte for byte and leaves the other
// platform's content out.
func TestPlatformSubset(t *testing.T) {
	set := testimage.New(t)
	src := open(t, set.Dir)
	plats, _ := layout.ParsePlatforms("linux/arm64")
	app, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	p := filepath.Join(t.TempDir(), "arm.tar")
	res, err := archive.Write(context.Background(), src, app, p, archive.WriteOptions{Platforms: plats})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Filtered) != 1 || !strings.Contains(res.Filtered[0], set.AMD64.Manifest.Digest.String()) {
		t.Fatalf("filtered: %v", res.Filtered)
	}
	names := map[string]bool{}
	for _, e := range readTar(t, p) {
		names[e.name] = true
	}
	if !names["blobs/sha256/"+set.Index.Digest.Encoded()] || !names["blobs/sha256/"+set.ARM64.Layer.Digest.Encoded()] {
		t.Fatal("index or arm64 layer missing")
	}
	if names["blobs/sha256/"+set.AMD64.Layer.Digest.Encoded()] || names["blobs/sha256/"+set.AMD64.Manifest.Digest.Encoded()] {
		t.Fatal("amd64 content was written")
	}
}

// TestWriteFailsAtomically: a corrupt source blob fails the export and
// leaves no file under the destination name. The temp file beside it is
// kept, cut after the last whole blob before the bad one, so the run
// after the source is mended resumes it: it keeps those blobs (checked
// again) and gives the archive a fresh write gives, byte for byte.
func TestWriteFailsAtomically(t *testing.T) {
	set := testimage.New(t)
	good, _ := os.ReadFile(set.BlobFile(set.ARM64.Layer))
	bad := slices.Clone(good)
	bad[100] ^= 0xff
	os.WriteFile(set.BlobFile(set.ARM64.Layer), bad, 0o644)
	src := open(t, set.Dir)
	dir := t.TempDir()
	dest := filepath.Join(dir, "a.tar")
	_, err := archive.Write(context.Background(), src, src.Images, dest, archive.WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), set.ARM64.Layer.Digest.String()) || !strings.Contains(err.Error(), "the same command resumes") {
		t.Fatalf("want a digest mismatch naming the layer, and that a re-run resumes, got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), ".a.tar.tmp-") {
		t.Fatalf("want only the temp file left, got %v", ents)
	}
	if tmp, _ := os.ReadFile(filepath.Join(dir, ents[0].Name())); bytes.Contains(tmp, bad) {
		t.Fatal("the temp file kept bytes of the corrupt blob")
	}
	os.WriteFile(set.BlobFile(set.ARM64.Layer), good, 0o644)
	res, err := archive.Write(context.Background(), src, src.Images, dest, archive.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept == nil || res.Kept.Blobs == 0 || res.Kept.Blobs >= res.Blobs {
		t.Fatalf("the re-run kept %+v of %d blobs", res.Kept, res.Blobs)
	}
	fresh := filepath.Join(t.TempDir(), "a.tar")
	if _, err := archive.Write(context.Background(), src, src.Images, fresh, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(dest)
	b, _ := os.ReadFile(fresh)
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed archive differs from a fresh one")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}
