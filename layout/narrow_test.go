package layout_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

const buildkitIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","annotations":{"a":"b"},"x-unknown":[1,2],
"manifests":[
 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"platform":{"architecture":"amd64","os":"linux"}},
 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":2,"platform":{"architecture":"arm64","os":"linux"}},
 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":3,"platform":{"architecture":"unknown","os":"unknown"},
  "annotations":{"vnd.docker.reference.digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","vnd.docker.reference.type":"attestation-manifest"}},
 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","size":4,"platform":{"architecture":"unknown","os":"unknown"},
  "annotations":{"vnd.docker.reference.digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","vnd.docker.reference.type":"attestation-manifest"}}
]}`

// TestNarrowIndex keeps the chosen platform and its attestation only, and
// every other part of the document, deterministically.
func TestNarrowIndex(t *testing.T) {
	arm := func(d ocispec.Descriptor) bool { return d.Platform.Architecture != "amd64" }
	out, err := layout.NarrowIndex([]byte(buildkitIndex), arm)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		ocispec.Index
		Unknown []int `json:"x-unknown"`
	}
	if err := json.Unmarshal(out, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 2 || !strings.HasPrefix(idx.Manifests[0].Digest.Encoded(), "bbbb") || !strings.HasPrefix(idx.Manifests[1].Digest.Encoded(), "dddd") {
		t.Fatalf("kept %v", idx.Manifests)
	}
	if idx.Annotations["a"] != "b" || len(idx.Unknown) != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("document fields lost: %s", out)
	}
	again, _ := layout.NarrowIndex([]byte(buildkitIndex), arm)
	if !bytes.Equal(out, again) {
		t.Fatal("narrowing is not deterministic")
	}
	if _, err := layout.NarrowIndex([]byte(buildkitIndex), func(ocispec.Descriptor) bool { return false }); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("nothing kept: %v", err)
	}
	if _, err := layout.NarrowIndex([]byte(`{"manifests":7}`), arm); !errors.Is(err, layout.ErrInvalid) {
		t.Fatalf("bad document: %v", err)
	}
}
