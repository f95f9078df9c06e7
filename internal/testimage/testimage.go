// Package testimage builds small, deterministic layouts for ferry's tests:
// a two-platform index, a single image with two tags and a referrer, the
// shapes most code paths must handle. Tests corrupt them file by file.
package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

var v2 = specs.Versioned{SchemaVersion: 2}

// Set is a built layout and the descriptors tests need to poke at.
type Set struct {
	Dir          string
	Index        ocispec.Descriptor // example.com/app:v1
	AMD64, ARM64 Image              // its two platforms
	Single       Image              // docker.io/library/busybox:1.36 and :latest
	Referrer     ocispec.Descriptor // an SBOM-like artifact whose subject is Single
	Names        []string           // the image names in index.json
	TotalBlobs   int
}

// Image is one single-platform image.
type Image struct {
	Manifest, Config, Layer ocispec.Descriptor
}

// Put stores b in s under its sha256 descriptor.
func Put(t testing.TB, s layout.Store, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := s.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

// LayerTar is a real, deterministic one-file layer tar.
func LayerTar(name, content string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

// Build pushes a one-layer image for arch whose layer holds content.
func Build(t testing.TB, s layout.Store, arch, content string) Image {
	t.Helper()
	var im Image
	im.Layer = Put(t, s, ocispec.MediaTypeImageLayer, LayerTar("hello.txt", content))
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": arch,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{im.Layer.Digest}}})
	im.Config = Put(t, s, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: im.Config, Layers: []ocispec.Descriptor{im.Layer}})
	im.Manifest = Put(t, s, ocispec.MediaTypeImageManifest, m)
	return im
}

// New builds the standard set in a fresh temporary layout.
func New(t testing.TB) *Set {
	t.Helper()
	s := &Set{Dir: t.TempDir()}
	d, err := layout.CreateDir(context.Background(), s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	s.AMD64 = Build(t, txn, "amd64", "hello from amd64")
	s.ARM64 = Build(t, txn, "arm64", "hello from arm64")
	a, r := s.AMD64.Manifest, s.ARM64.Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, r}})
	s.Index = Put(t, txn, ocispec.MediaTypeImageIndex, idx)
	s.Single = Build(t, txn, "amd64", "hello from busybox")
	empty := Put(t, txn, "application/vnd.oci.empty.v1+json", []byte("{}"))
	subj := s.Single.Manifest
	ref, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.sbom", Config: empty, Layers: []ocispec.Descriptor{empty}, Subject: &subj})
	s.Referrer = Put(t, txn, ocispec.MediaTypeImageManifest, ref)
	var ims []layout.Image
	for _, n := range []struct {
		name string
		d    ocispec.Descriptor
	}{{"example.com/app:v1", s.Index}, {"busybox:1.36", s.Single.Manifest}, {"busybox:latest", s.Single.Manifest}} {
		r, err := layout.ParseRef(n.name)
		if err != nil {
			t.Fatal(err)
		}
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(n.d, r)})
		s.Names = append(s.Names, r.String())
	}
	ims = append(ims, layout.Image{Desc: s.Referrer})
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	s.TotalBlobs = 12
	return s
}

// BlobFile is the path of a blob in the set's directory.
func (s *Set) BlobFile(d ocispec.Descriptor) string {
	return filepath.Join(s.Dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
}

// Named is one image for Layout: its name and its one layer's content.
type Named struct{ Name, Content string }

// Layout writes a fresh layout in dir holding one single-platform image
// (linux/amd64) for each of ims, under its name: the fixture most tests
// that need a few named images of chosen sizes start from.
func Layout(t testing.TB, dir string, ims ...Named) []Image {
	t.Helper()
	ctx := context.Background()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var built []Image
	var named []layout.Image
	for _, n := range ims {
		im := Build(t, txn, "amd64", n.Content)
		r, err := layout.ParseRef(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, im)
		named = append(named, layout.Image{Ref: r, Desc: layout.Annotate(im.Manifest, r)})
	}
	if err := txn.Commit(ctx, nil, named); err != nil {
		t.Fatal(err)
	}
	return built
}
