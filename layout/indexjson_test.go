package layout_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

func TestParseIndexJSON(t *testing.T) {
	good := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + mfDesc + `]}`
	idx, err := layout.ParseIndexJSON([]byte(good), "t")
	if err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("ParseIndexJSON(good) = %+v, %v", idx, err)
	}
	if _, err := layout.ParseIndexJSON([]byte(`{"schemaVersion":2,"manifests":[]}`), "t"); err != nil {
		t.Fatalf("empty index without mediaType: %v", err)
	}
	entry := func(digest string) string {
		return `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","size":2}]}`
	}
	// FORMATS.md §8.5 items 2, 3 and 8.
	for name, doc := range map[string]string{
		"schemaVersion 1":          `{"schemaVersion":1,"manifests":[]}`,
		"schemaVersion 3":          `{"schemaVersion":3,"manifests":[]}`,
		"no schemaVersion":         `{"manifests":[]}`,
		"manifests absent":         `{"schemaVersion":2}`,
		"manifest mediaType":       `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`,
		"docker list mediaType":    `{"schemaVersion":2,"mediaType":"` + layout.MediaTypeDockerManifestList + `","manifests":[]}`,
		"with layers":              `{"schemaVersion":2,"manifests":[],"layers":[]}`,
		"with config":              `{"schemaVersion":2,"manifests":[],"config":` + cfgDesc + `}`,
		"with fsLayers":            `{"schemaVersion":2,"manifests":[],"fsLayers":[]}`,
		"digest XYZ":               entry("sha256:XYZ"),
		"digest uppercase":         entry("sha256:" + strings.Repeat("A", 64)),
		"digest 63 hex":            entry("sha256:" + strings.Repeat("a", 63)),
		"digest traversal":         entry("sha256:../../x"),
		"duplicate key":            `{"schemaVersion":2,"schemaVersion":2,"manifests":[]}`,
		"Manifests case variant":   `{"schemaVersion":2,"Manifests":[]}`,
		"trailing garbage":         `{"schemaVersion":2,"manifests":[]}]`,
		"non utf-8":                "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":\"\xff\"}}",
		"manifests not array":      `{"schemaVersion":2,"manifests":{}}`,
		"negative size":            `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"` + emptyDigest + `","size":-1}]}`,
		"not an object":            `[]`,
		"schemaVersion as float 2": `{"schemaVersion":2.0,"manifests":[]}`,
	} {
		if _, err := layout.ParseIndexJSON([]byte(doc), "t"); !errors.Is(err, layout.ErrInvalid) {
			t.Errorf("%s: ParseIndexJSON = %v, want ErrInvalid", name, err)
		}
	}
}

// image-spec makes manifests REQUIRED (an array, possibly empty), and
// DecodeNode already refuses null; index.json must not be laxer.
func TestParseIndexJSONNullManifests(t *testing.T) {
	if _, err := layout.ParseIndexJSON([]byte(`{"schemaVersion":2,"manifests":null}`), "t"); !errors.Is(err, layout.ErrInvalid) {
		t.Fatalf("ParseIndexJSON(manifests null) = %v, want ErrInvalid", err)
	}
}
