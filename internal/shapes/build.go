// Package shapes writes the layouts and archives that other tools produce
// (docker save old and new, podman, skopeo, crane, regctl, oras, ctr
// export) and hostile variants of them. It is an independent
// implementation of those formats, built from FORMATS.md and not from
// ferry's own code, so ferry's tests can use it as an oracle.
package shapes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	_ "crypto/sha256" // go-digest v1.0.0 needs the hash registered
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker media types, spelled out here so the package stays independent.
const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerConfig   = "application/vnd.docker.container.image.v1+json"
	dockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	containerdName = "io.containerd.image.name"
)

var v2 = specs.Versioned{SchemaVersion: 2}

// file is one archive member or directory file.
type file struct {
	name string
	body []byte
	link string // symlink target
	hard bool   // hard link to link
}

// image is a built single-platform image and its blobs.
type image struct {
	manifest, config  []byte
	mdesc, cdesc      ocispec.Descriptor
	layers            [][]byte // as stored (compressed or not)
	ldesc             []ocispec.Descriptor
	uncompressed      [][]byte
	arch, os, variant string
}

func desc(mt string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// layerTar is a real one-file layer, deterministic.
func layerTar(name, content string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// opts choose how an image is stored.
type opts struct {
	docker     bool // Docker schema2 media types
	compressed bool // gzip layers
	layers     []string
}

// build makes an image for arch whose layers hold the given contents.
func build(arch string, o opts) image {
	im := image{arch: arch, os: "linux"}
	if arch == "arm64" {
		im.variant = "v8"
	}
	var diffIDs []digest.Digest
	for i, c := range o.layers {
		raw := layerTar(filepathName(i), c+" for "+arch)
		diffIDs = append(diffIDs, digest.FromBytes(raw))
		stored, mt := raw, ocispec.MediaTypeImageLayer
		if o.compressed {
			stored, mt = gz(raw), ocispec.MediaTypeImageLayerGzip
		}
		if o.docker {
			mt = dockerLayer
		}
		im.uncompressed = append(im.uncompressed, raw)
		im.layers = append(im.layers, stored)
		im.ldesc = append(im.ldesc, desc(mt, stored))
	}
	cfg := map[string]any{"architecture": arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		"config": map[string]any{"Env": []string{"PATH=/bin"}}}
	if im.variant != "" {
		cfg["variant"] = im.variant
	}
	im.config, _ = json.Marshal(cfg)
	cmt, mmt := ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if o.docker {
		cmt, mmt = dockerConfig, dockerManifest
	}
	im.cdesc = desc(cmt, im.config)
	im.manifest, _ = json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: mmt, Config: im.cdesc, Layers: im.ldesc})
	im.mdesc = desc(mmt, im.manifest)
	return im
}

func filepathName(i int) string { return "file" + string(rune('a'+i)) + ".txt" }

// platform is the index entry of an image.
func (im image) platformDesc() ocispec.Descriptor {
	d := im.mdesc
	d.Platform = &ocispec.Platform{OS: im.os, Architecture: im.arch, Variant: im.variant}
	return d
}

// blobs are the image's stored blobs: manifest, config, layers.
func (im image) blobs() [][]byte {
	return append([][]byte{im.manifest, im.config}, im.layers...)
}

// index makes an OCI index (or Docker list) of images.
func index(docker bool, ims ...image) ([]byte, ocispec.Descriptor) {
	mt := ocispec.MediaTypeImageIndex
	if docker {
		mt = dockerList
	}
	var ms []ocispec.Descriptor
	for _, im := range ims {
		ms = append(ms, im.platformDesc())
	}
	b, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: mt, Manifests: ms})
	return b, desc(mt, b)
}

// named sets the name annotations on an index.json entry.
func named(d ocispec.Descriptor, ann ...string) ocispec.Descriptor {
	d.Platform = nil
	d.Annotations = map[string]string{}
	for i := 0; i+1 < len(ann); i += 2 {
		d.Annotations[ann[i]] = ann[i+1]
	}
	if len(d.Annotations) == 0 {
		d.Annotations = nil
	}
	return d
}

// ociFiles is an OCI layout: oci-layout, index.json, blobs.
func ociFiles(entries []ocispec.Descriptor, blobs ...[]byte) []file {
	idx, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	fs := []file{{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {name: "index.json", body: idx}}
	seen := map[digest.Digest]bool{}
	for _, b := range blobs {
		d := digest.FromBytes(b)
		if !seen[d] {
			seen[d] = true
			fs = append(fs, file{name: "blobs/sha256/" + d.Encoded(), body: b})
		}
	}
	return fs
}

// writeTar writes fs as a tar (gzip-compressed when zip is set), in the
// order given unless sorted is set.
func writeTar(path string, fs []file, zip, sorted bool) error {
	if sorted {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range fs {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		switch {
		case f.hard:
			h = &tar.Header{Name: f.name, Typeflag: tar.TypeLink, Linkname: f.link, ModTime: time.Unix(0, 0)}
		case f.link != "":
			h = &tar.Header{Name: f.name, Typeflag: tar.TypeSymlink, Linkname: f.link, ModTime: time.Unix(0, 0)}
		case len(f.name) > 0 && f.name[len(f.name)-1] == '/':
			h = &tar.Header{Name: f.name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(f.body)
		}
	}
	tw.Close()
	out := b.Bytes()
	if zip {
		out = gz(out)
	}
	return os.WriteFile(path, out, 0o644)
}

// writeDir writes fs as a directory.
func writeDir(path string, fs []file) error {
	for _, f := range fs {
		p := filepath.Join(path, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		var err error
		if f.link != "" {
			err = os.Symlink(f.link, p)
		} else {
			err = os.WriteFile(p, f.body, 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
