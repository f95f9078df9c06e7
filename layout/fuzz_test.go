package layout_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// jsonSeeds are valid and malformed documents shared by the JSON fuzzers.
var jsonSeeds = []string{
	goodManifest,
	manifestWith(layerDesc + "," + layerDesc),
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + mfDesc + `]}`,
	`{"schemaVersion":2,"manifests":[]}`,
	`{"schemaVersion":2,"manifests":null}`,
	`{"schemaVersion":1,"fsLayers":[]}`,
	`{"mediaType":"a","MediaType":"b"}`,
	`{"layers":[],"layers":[]}`,
	`{} trailing`,
	"{\"a\":\"\xff\"}",
	nested(70),
	manifestWith(layerWith(`"size":-1`)),
	manifestWith(layerWith(`"size":2,"data":"e30="`)),
	`{"schemaVersion":2,"config":` + cfgDesc + `,"subject":` + mfDesc + `}`,
	``,
	`null`,
}

func FuzzStrictJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := layout.StrictJSON(b); err != nil {
			return
		}
		if !utf8.Valid(b) || !json.Valid(b) {
			t.Fatalf("StrictJSON accepted invalid JSON %q", b)
		}
		// Whitespace carries no meaning: the compacted document is
		// accepted too.
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		if err := layout.StrictJSON(c.Bytes()); err != nil {
			t.Fatalf("accepted %q but refused its compact form: %v", b, err)
		}
	})
}

func FuzzDecodeNode(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mt := range []string{
			ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
			layout.MediaTypeDockerManifest, layout.MediaTypeDockerManifestList,
		} {
			d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
			n, err := layout.DecodeNode(d, b)
			if err != nil {
				if !errors.Is(err, layout.ErrInvalid) {
					t.Fatalf("%s: error %v does not wrap ErrInvalid", mt, err)
				}
				continue
			}
			if (n.Index == nil) == (n.Manifest == nil) {
				t.Fatalf("%s: decoded as index=%v manifest=%v", mt, n.Index != nil, n.Manifest != nil)
			}
			if !bytes.Equal(n.Raw, b) {
				t.Fatalf("%s: Raw differs from the input", mt)
			}
			for i, c := range n.Children() {
				if err := layout.ValidateDescriptor(c); err != nil {
					t.Fatalf("%s: child %d passed DecodeNode but fails ValidateDescriptor: %v", mt, i, err)
				}
			}
			if s := n.Subject(); s != nil {
				if err := layout.ValidateDescriptor(*s); err != nil {
					t.Fatalf("%s: subject fails ValidateDescriptor: %v", mt, err)
				}
			}
		}
	})
}

func FuzzParseIndexJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := layout.ParseIndexJSON(b, "fuzz")
		if err != nil {
			if !errors.Is(err, layout.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if idx.SchemaVersion != 2 {
			t.Fatalf("accepted schemaVersion %d", idx.SchemaVersion)
		}
		for i, d := range idx.Manifests {
			if err := layout.ValidateDescriptor(d); err != nil {
				t.Fatalf("manifests[%d] accepted but invalid: %v", i, err)
			}
			// Every accepted digest is safe to build a path from.
			p, err := layout.BlobPath(d.Digest)
			if err != nil || strings.Contains(p, "..") {
				t.Fatalf("manifests[%d]: BlobPath = %q, %v", i, p, err)
			}
		}
	})
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"busybox", "docker.io/library/busybox:latest", "localhost:5000/foo:bar", "LOCALDOMAIN/foo",
		"[::1]:5000/foo", "ubuntu@sha256:" + strings.Repeat("f", 64), "example.com/a:tag@sha256:" + strings.Repeat("a", 64),
		"example.com/a@sha512:" + strings.Repeat("a", 128), "foo/Bar", "a:-tag", "", ":justtag", " busybox ",
		"foo__bar/baz", "a:" + strings.Repeat("t", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := layout.ParseRef(s)
		if err != nil {
			return
		}
		if r.Repo == "" || (r.Tag == "" && r.Digest == "") {
			t.Fatalf("ParseRef(%q) = %+v: no repository, or neither tag nor digest", s, r)
		}
		if r.Digest != "" {
			if err := layout.ValidateDigest(r.Digest); err != nil {
				t.Fatalf("ParseRef(%q) kept an invalid digest: %v", s, err)
			}
		}
		back, err := layout.ParseRef(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRef(%q) = %+v; ParseRef(%q) = %+v, %v", s, r, r.String(), back, err)
		}
		if _, err := layout.ParseRef(r.Familiar()); err != nil {
			t.Fatalf("Familiar() %q of %q does not parse: %v", r.Familiar(), s, err)
		}
	})
}

// FuzzVerifyReader: reading to the end succeeds iff the content matches the
// declared size and digest, however the source splits its reads.
func FuzzVerifyReader(f *testing.F) {
	f.Add([]byte("hello"), int64(5), []byte("hello"), uint8(0))
	f.Add([]byte("hello"), int64(4), []byte("hello"), uint8(1))
	f.Add([]byte("hello"), int64(6), []byte("hello"), uint8(2))
	f.Add([]byte("hello"), int64(5), []byte("HELLO"), uint8(3))
	f.Add([]byte{}, int64(0), []byte{}, uint8(0))
	f.Add([]byte{}, int64(-1), []byte{}, uint8(1))
	f.Add([]byte("x"), int64(1<<62), []byte("x"), uint8(2))
	f.Fuzz(func(t *testing.T, content []byte, size int64, digestOf []byte, mode uint8) {
		d := ocispec.Descriptor{Digest: digest.FromBytes(digestOf), Size: size}
		var src io.Reader = bytes.NewReader(content)
		switch mode % 4 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = iotest.DataErrReader(src)
		case 3:
			src = iotest.HalfReader(src)
		}
		match := size == int64(len(content)) && bytes.Equal(content, digestOf)
		vr, err := layout.NewVerifyReader(src, d)
		if err != nil {
			if size >= 0 {
				t.Fatalf("NewVerifyReader refused a valid descriptor: %v", err)
			}
			return
		}
		got, err := io.ReadAll(vr)
		if (err == nil) != match {
			t.Fatalf("size %d, %d bytes, digest match %v: ReadAll error %v", size, len(content), bytes.Equal(content, digestOf), err)
		}
		if match && (!bytes.Equal(got, content) || !vr.Verified()) {
			t.Fatal("matching content was altered or not marked verified")
		}
		if !match && vr.Verified() {
			t.Fatal("mismatching content marked verified")
		}
		if size >= 0 && int64(len(got)) > size {
			t.Fatalf("returned %d bytes, more than the declared %d", len(got), size)
		}
	})
}

// FuzzNarrowIndex: narrowing any index document that DecodeNode accepts
// never panics, and what comes out is again an index DecodeNode accepts,
// holding a subset of the entries, each byte for byte.
func FuzzNarrowIndex(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), uint8(1))
	}
	f.Add([]byte(buildkitIndex), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, mask uint8) {
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
		n, err := layout.DecodeNode(d, b)
		if err != nil || n.Index == nil {
			return
		}
		i := 0
		out, err := layout.NarrowIndex(b, func(ocispec.Descriptor) bool { i++; return mask&(1<<(i%8)) != 0 })
		if err != nil {
			return
		}
		nd := ocispec.Descriptor{MediaType: d.MediaType, Digest: digest.FromBytes(out), Size: int64(len(out))}
		m, err := layout.DecodeNode(nd, out)
		if err != nil || m.Index == nil {
			t.Fatalf("narrowed document is no valid index: %v\n%s", err, out)
		}
		if len(m.Index.Manifests) > len(n.Index.Manifests) || len(m.Index.Manifests) == 0 {
			t.Fatalf("narrowed %d entries to %d", len(n.Index.Manifests), len(m.Index.Manifests))
		}
		orig := map[digest.Digest]bool{}
		for _, c := range n.Index.Manifests {
			orig[c.Digest] = true
		}
		for _, c := range m.Index.Manifests {
			if !orig[c.Digest] {
				t.Fatalf("narrowed index holds %s, which the original did not", c.Digest)
			}
		}
	})
}
