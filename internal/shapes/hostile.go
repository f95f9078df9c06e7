package shapes

import (
	"encoding/json"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// base is the valid archive each hostile fixture changes in one way.
func base() (image, ocispec.Descriptor, []file) {
	im := build("amd64", opts{compressed: true, layers: []string{"victim layer with some content to corrupt"}})
	entry := named(im.mdesc, containerdName, "example.com/victim:1", ocispec.AnnotationRefName, "1")
	return im, entry, ociFiles([]ocispec.Descriptor{entry}, im.blobs()...)
}

// replace swaps the member named n (or appends it).
func replace(fs []file, f file) []file {
	out := append([]file(nil), fs...)
	for i := range out {
		if out[i].name == f.name {
			out[i] = f
			return out
		}
	}
	return append(out, f)
}

func without(fs []file, name string) []file {
	var out []file
	for _, f := range fs {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

// withManifest replaces the image's manifest by raw bytes, under a
// descriptor claiming mt, and points index.json at it.
func withManifest(im image, raw []byte, mt string) []file {
	d := desc(mt, raw)
	entry := named(d, containerdName, "example.com/victim:1")
	blobs := append([][]byte{raw, im.config}, im.layers...)
	return ociFiles([]ocispec.Descriptor{entry}, blobs...)
}

func (g *gen) hostile() {
	im, _, fs := base()
	layer := im.ldesc[0]
	lname := "blobs/sha256/" + layer.Digest.Encoded()
	bad := func(name, note string, files []file, kind string, mention ...string) {
		g.add(Fixture{Name: name, Tool: "hostile", Bad: true, Mention: mention, Note: note}, files, kind)
	}
	flipped := append([]byte(nil), im.layers[0]...)
	flipped[len(flipped)/2] ^= 0xff
	bad("bad-blob-content", "a layer whose bytes do not match its name", replace(fs, file{name: lname, body: flipped}), "", layer.Digest.String())
	for _, delta := range []int64{1, -1} {
		m := im
		ld := append([]ocispec.Descriptor(nil), im.ldesc...)
		ld[0].Size += delta
		raw, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: m.cdesc, Layers: ld})
		name := "bad-size-plus1"
		if delta < 0 {
			name = "bad-size-minus1"
		}
		bad(name, "a descriptor size off by one", withManifest(im, raw, ocispec.MediaTypeImageManifest), "", layer.Digest.String())
	}
	bad("bad-missing-blob", "a referenced layer is absent", without(fs, lname), "", layer.Digest.String())
	bad("bad-traversal-dotdot", "an entry outside the archive", append(fs, file{name: "../evil", body: []byte("x")}), "", "../evil")
	bad("bad-traversal-abs", "an absolute entry", append(fs, file{name: "/etc/evil", body: []byte("x")}), "", "/etc/evil")
	bad("bad-traversal-inner", "a .. inside a blob path", append(fs, file{name: "blobs/sha256/../../x", body: []byte("x")}), "", "blobs/sha256/../../x")
	bad("bad-backslash", "a backslash path", append(fs, file{name: `blobs\sha256\x`, body: []byte("x")}), "", `blobs\\sha256\\x`)
	bad("bad-symlink-blob", "a blob that is a symlink", replace(fs, file{name: lname, link: "/etc/passwd"}), "", layer.Digest.Encoded())
	bad("bad-hardlink", "a hard link entry", append(fs, file{name: "x", link: "oci-layout", hard: true}), "", `"x"`)
	idx2 := []byte(`{"schemaVersion":2,"manifests":[]}`)
	bad("bad-dup-index", "index.json twice with different content", append(fs, file{name: "index.json", body: idx2}), "", "index.json")
	bad("bad-dot-slash-dup", "./index.json and index.json differ", append(fs, file{name: "./index.json", body: idx2}), "", "index.json")
	bad("bad-dup-blob", "one blob path twice with different content", append(fs, file{name: lname, body: flipped}), "", layer.Digest.Encoded())
	bad("bad-no-oci-layout", "neither oci-layout nor manifest.json", without(fs, "oci-layout"), "", "oci-layout")
	bad("bad-layout-version", "imageLayoutVersion 2.0.0", replace(fs, file{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"2.0.0"}`)}), "", "2.0.0")
	bad("bad-index-schema", "index.json schemaVersion 1", replace(fs, file{name: "index.json", body: []byte(`{"schemaVersion":1,"manifests":[]}`)}), "", "index.json")
	rawIdx := func(d string) []byte {
		return []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","size":10}]}`)
	}
	bad("bad-index-digest", "a digest that would be a path traversal", replace(fs, file{name: "index.json", body: rawIdx("sha256:../../x")}), "", "sha256:../../x")
	bad("bad-unknown-alg", "a well-formed digest of an algorithm nobody can check", replace(fs, file{name: "index.json", body: rawIdx("foo:" + strings.Repeat("a", 64))}), "", "foo:")
	good := string(im.manifest)
	for _, m := range []struct{ name, raw string }{
		{"bad-manifest-dupkey", strings.Replace(good, `"schemaVersion":2,`, `"schemaVersion":2,"schemaVersion":2,`, 1)},
		{"bad-manifest-casekey", strings.Replace(good, `"layers"`, `"Layers"`, 1)},
		{"bad-manifest-trailing", good + `{}`},
		{"bad-manifest-ambiguous", strings.Replace(good, `"layers"`, `"manifests":[],"layers"`, 1)},
		{"bad-manifest-5mib", strings.Replace(good, `{"schemaVersion":2,`, `{"schemaVersion":2,"annotations":{"pad":"`+strings.Repeat("p", 5<<20)+`"},`, 1)},
	} {
		raw := []byte(m.raw)
		bad(m.name, "a hostile manifest", withManifest(im, raw, ocispec.MediaTypeImageManifest), "", desc("", raw).Digest.String())
	}
	asIndex, _ := json.Marshal(ocispec.Index{Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
	bad("bad-mediatype-mismatch", "descriptor says manifest, body says index", withManifest(im, asIndex, ocispec.MediaTypeImageManifest), "", desc("", asIndex).Digest.String())

	g.truncated(fs, lname)
	g.dockerHostile()
	// Directory layouts: a blob symlinked outside, and a corrupted blob.
	bad("bad-dir-symlink-blob", "a layout blob that is a symlink", replace(fs, file{name: lname, link: "/etc/hostname"}), "dir", layer.Digest.Encoded())
	bad("bad-dir-blob-content", "a corrupted blob in a directory", replace(fs, file{name: lname, body: flipped}), "dir", layer.Digest.String())
}
