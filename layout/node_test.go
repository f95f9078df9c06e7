package layout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	emptyJSONDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	emptyDigest     = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	cfgDesc         = `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyJSONDigest + `","size":2}`
	layerDesc       = `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + emptyDigest + `","size":0}`
	mfDesc          = `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + emptyJSONDigest + `","size":2}`
)

// desc describes raw as a document of media type mt.
func desc(mt string, raw []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
}

// layerWith is a layer descriptor with extra or replaced fields.
func layerWith(fields string) string {
	return `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + emptyDigest + `",` + fields + `}`
}

func manifestWith(layers string) string {
	return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + cfgDesc + `,"layers":[` + layers + `]}`
}

func TestDecodeNodeValid(t *testing.T) {
	const (
		M  = ocispec.MediaTypeImageManifest
		I  = ocispec.MediaTypeImageIndex
		DM = layout.MediaTypeDockerManifest
		DL = layout.MediaTypeDockerManifestList
	)
	cases := []struct {
		name, mt, doc string
		children      int
	}{
		{"oci manifest", M, manifestWith(layerDesc + "," + layerDesc), 3},
		{"manifest without mediaType", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[]}`, 1},
		{"manifest without layers", M, `{"schemaVersion":2,"config":` + cfgDesc + `}`, 1},
		{"unknown fields", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[],"x-extra":{"foo":1}}`, 1},
		{"data field", M, manifestWith(`{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyJSONDigest + `","size":2,"data":"e30="}`), 2},
		{"docker manifest", DM, `{"schemaVersion":2,"mediaType":"` + DM + `","config":` + cfgDesc + `,"layers":[]}`, 1},
		{"oci index", I, `{"schemaVersion":2,"mediaType":"` + I + `","manifests":[` + mfDesc + `,` + mfDesc + `]}`, 2},
		{"empty index", I, `{"schemaVersion":2,"manifests":[]}`, 0},
		{"index with unknown child type", I, `{"schemaVersion":2,"manifests":[{"mediaType":"application/xml","digest":"` + emptyDigest + `","size":0}]}`, 1},
		{"docker list", DL, `{"schemaVersion":2,"mediaType":"` + DL + `","manifests":[]}`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.doc)
			n, err := layout.DecodeNode(desc(tc.mt, raw), raw)
			if err != nil {
				t.Fatalf("DecodeNode: %v", err)
			}
			if got := len(n.Children()); got != tc.children {
				t.Fatalf("%d children, want %d", got, tc.children)
			}
			if (n.Index != nil) != layout.IsIndex(tc.mt) || (n.Manifest != nil) != layout.IsManifest(tc.mt) {
				t.Fatalf("decoded as index=%v manifest=%v", n.Index != nil, n.Manifest != nil)
			}
			if !bytes.Equal(n.Raw, raw) {
				t.Fatal("Raw is not the exact input bytes")
			}
		})
	}
}

// FORMATS.md §8.5 items 2, 8 and 9: each must be refused with ErrInvalid.
func TestDecodeNodeMalformed(t *testing.T) {
	const (
		M = ocispec.MediaTypeImageManifest
		I = ocispec.MediaTypeImageIndex
	)
	otherDigest := digest.FromString("other")
	cases := []struct {
		name, mt, doc string
	}{
		{"schemaVersion 1", M, `{"schemaVersion":1,"config":` + cfgDesc + `}`},
		{"schemaVersion 3", M, `{"schemaVersion":3,"config":` + cfgDesc + `}`},
		{"schemaVersion missing", M, `{"config":` + cfgDesc + `}`},
		{"schemaVersion string", M, `{"schemaVersion":"2","config":` + cfgDesc + `}`},
		{"index schemaVersion 1", I, `{"schemaVersion":1,"manifests":[]}`},
		{"index with manifest mediaType", I, `{"schemaVersion":2,"mediaType":"` + M + `","manifests":[]}`},
		{"manifest with index mediaType", M, `{"schemaVersion":2,"mediaType":"` + I + `","config":` + cfgDesc + `}`},
		{"both manifests and layers as manifest", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[],"manifests":[]}`},
		{"both manifests and layers as index", I, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[],"manifests":[]}`},
		{"schema1 fsLayers", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"fsLayers":[{"blobSum":"` + emptyDigest + `"}]}`},
		{"schema1 body mediaType", M, `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws","config":` + cfgDesc + `}`},
		{"schema1 descriptor", "application/vnd.docker.distribution.manifest.v1+json", `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}`},
		{"docker manifest without mediaType", layout.MediaTypeDockerManifest, `{"schemaVersion":2,"config":` + cfgDesc + `,"layers":[]}`},
		{"duplicate mediaType", M, `{"schemaVersion":2,"mediaType":"` + M + `","mediaType":"` + M + `","config":` + cfgDesc + `}`},
		{"MediaType case variant", M, `{"schemaVersion":2,"MediaType":"` + I + `","config":` + cfgDesc + `}`},
		{"Layers case variant", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"Layers":[` + layerDesc + `]}`},
		{"trailing garbage", M, manifestWith("") + "garbage"},
		{"non utf-8", M, manifestWith(layerWith(`"size":0,"annotations":{"a":"` + "\xff" + `"}`))},
		{"size -1", M, manifestWith(layerWith(`"size":-1`))},
		{"size float", M, manifestWith(layerWith(`"size":1e3`))},
		{"size string", M, manifestWith(layerWith(`"size":"10"`))},
		{"traversal child digest", M, manifestWith(`{"mediaType":"a/b","digest":"sha256:../../x","size":0}`)},
		{"uppercase child digest", M, manifestWith(`{"mediaType":"a/b","digest":"sha256:` + strings.Repeat("A", 64) + `","size":0}`)},
		{"bad child mediaType", M, manifestWith(`{"mediaType":"not a type","digest":"` + emptyDigest + `","size":0}`)},
		{"data mismatching digest", M, manifestWith(layerWith(`"size":2,"data":"e30="`))},
		{"data mismatching size", M, manifestWith(`{"mediaType":"a/b","digest":"` + emptyJSONDigest + `","size":3,"data":"e30="}`)},
		{"data not base64", M, manifestWith(layerWith(`"size":2,"data":"!!!"`))},
		{"config missing", M, `{"schemaVersion":2,"layers":[]}`},
		{"config invalid", M, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"","size":0}}`},
		{"index without manifests", I, `{"schemaVersion":2}`},
		{"index manifests null", I, `{"schemaVersion":2,"manifests":null}`},
		{"index bad child", I, `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"` + otherDigest.String() + `","size":-5}]}`},
		{"bad subject", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"subject":{"mediaType":"a/b","digest":"sha256:XYZ","size":1}}`},
		{"not a node type", "application/vnd.oci.image.config.v1+json", `{"schemaVersion":2,"config":` + cfgDesc + `}`},
		{"null", M, `null`},
		{"array", M, `[]`},
		{"depth 100", M, `{"schemaVersion":2,"config":` + cfgDesc + `,"annotations":{"a":` + nested(100) + `}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.doc)
			n, err := layout.DecodeNode(desc(tc.mt, raw), raw)
			if !errors.Is(err, layout.ErrInvalid) {
				t.Fatalf("DecodeNode = %v, %v; want ErrInvalid", n, err)
			}
		})
	}
}

func TestNodeSubject(t *testing.T) {
	raw := []byte(`{"schemaVersion":2,"artifactType":"application/x.sig","config":` + cfgDesc + `,"layers":[` + layerDesc + `],"subject":` + mfDesc + `}`)
	n, err := layout.DecodeNode(desc(ocispec.MediaTypeImageManifest, raw), raw)
	if err != nil {
		t.Fatal(err)
	}
	if s := n.Subject(); s == nil || s.Digest != emptyJSONDigest {
		t.Fatalf("Subject() = %v", s)
	}
	for _, c := range n.Children() {
		if c.MediaType == ocispec.MediaTypeImageManifest {
			t.Fatal("the subject is listed as a child; it is a weak link")
		}
	}
}

func TestValidateDescriptor(t *testing.T) {
	good := ocispec.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: emptyJSONDigest, Size: 2, Data: []byte("{}")}
	if err := layout.ValidateDescriptor(good); err != nil {
		t.Fatalf("empty descriptor: %v", err)
	}
	bad := func(f func(*ocispec.Descriptor)) ocispec.Descriptor { d := good; f(&d); return d }
	for name, tc := range map[string]struct {
		d    ocispec.Descriptor
		want error
	}{
		"negative size": {bad(func(d *ocispec.Descriptor) { d.Data, d.Size = nil, -1 }), nil},
		"no mediaType":  {bad(func(d *ocispec.Descriptor) { d.MediaType = "" }), nil},
		"bad digest":    {bad(func(d *ocispec.Descriptor) { d.Digest = "sha256:../../x" }), layout.ErrInvalidDigest},
		"data size":     {bad(func(d *ocispec.Descriptor) { d.Data = []byte("{ }") }), layout.ErrSizeMismatch},
		"data digest":   {bad(func(d *ocispec.Descriptor) { d.Data = []byte("[]") }), layout.ErrDigestMismatch},
	} {
		err := layout.ValidateDescriptor(tc.d)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: ValidateDescriptor = %v, want an error matching %v", name, err, tc.want)
		}
	}
}

func TestReadAll(t *testing.T) {
	ctx := context.Background()
	s := memstore.NewCounting(memstore.New())

	// 5 MiB is refused from the descriptor alone, before any fetch.
	big := bytes.Repeat([]byte(" "), 5<<20)
	bigDesc := pushBytes(t, s, ocispec.MediaTypeImageManifest, big)
	s.Reset()
	if _, err := layout.ReadAll(ctx, s, bigDesc, layout.MaxManifestSize); !errors.Is(err, layout.ErrTooLarge) {
		t.Fatalf("5 MiB manifest: %v, want ErrTooLarge", err)
	}
	if s.Counts().Fetch != 0 {
		t.Fatal("ReadAll fetched a document its descriptor already showed too large")
	}
	if _, err := layout.FetchNode(ctx, s, bigDesc); !errors.Is(err, layout.ErrTooLarge) {
		t.Fatalf("FetchNode of 5 MiB: %v, want ErrTooLarge", err)
	}

	// Embedded data is used as is, and checked.
	d := ocispec.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: emptyJSONDigest, Size: 2, Data: []byte("{}")}
	if b, err := layout.ReadAll(ctx, s, d, 10); err != nil || string(b) != "{}" || s.Counts().Fetch != 0 {
		t.Fatalf("ReadAll(data) = %q, %v after %d fetches", b, err, s.Counts().Fetch)
	}
	d.Data = []byte("[]")
	if _, err := layout.ReadAll(ctx, s, d, 10); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("ReadAll(bad data) = %v, want ErrDigestMismatch", err)
	}

	// A stored document is verified against its descriptor.
	raw := []byte(manifestWith(layerDesc))
	md := pushBytes(t, s, ocispec.MediaTypeImageManifest, raw)
	if b, err := layout.ReadAll(ctx, s, md, layout.MaxManifestSize); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
	}
	short := md
	short.Size--
	if _, err := layout.ReadAll(ctx, s, short, layout.MaxManifestSize); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Fatalf("ReadAll with size-1: %v, want ErrSizeMismatch", err)
	}
	missing := desc(ocispec.MediaTypeImageManifest, []byte("nope"))
	if _, err := layout.FetchNode(ctx, s, missing); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("FetchNode(missing) = %v, want ErrNotFound", err)
	}
	n, err := layout.FetchNode(ctx, s, md)
	if err != nil || n.Manifest == nil || len(n.Manifest.Layers) != 1 {
		t.Fatalf("FetchNode = %+v, %v", n, err)
	}
}

// A layer descriptor may claim any size: DecodeNode accepts the largest
// int64, and nothing allocates from it.
func TestDecodeNodeHugeSize(t *testing.T) {
	raw := []byte(manifestWith(layerWith(fmt.Sprintf(`"size":%d`, int64(1<<63-1)))))
	n, err := layout.DecodeNode(desc(ocispec.MediaTypeImageManifest, raw), raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadAll(context.Background(), memstore.New(), n.Manifest.Layers[0], layout.MaxManifestSize); !errors.Is(err, layout.ErrTooLarge) {
		t.Fatalf("ReadAll of a max-int64 blob: %v, want ErrTooLarge", err)
	}
}
