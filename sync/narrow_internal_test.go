package sync

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// TestDroppedWith: an attestation dropped with its platform is listed,
// with the platform itself listed once.
func TestDroppedWith(t *testing.T) {
	a, b, att := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("c", 64)
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + a + `","size":1,"platform":{"architecture":"amd64","os":"linux"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + b + `","size":1,"platform":{"architecture":"arm64","os":"linux"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + att + `","size":1,"platform":{"architecture":"unknown","os":"unknown"},` +
		`"annotations":{"vnd.docker.reference.digest":"` + a + `","vnd.docker.reference.type":"attestation-manifest"}}]}`)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	root, err := layout.DecodeNode(d, raw)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	narrowed, err := layout.NarrowIndex(raw, func(c ocispec.Descriptor) bool {
		if c.Digest.String() == a {
			left = append(left, "linux/amd64 "+a+": absent")
			return false
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	got := droppedWith(root, narrowed, left)
	if len(got) != 1 || !strings.Contains(got[0], att) || !strings.Contains(got[0], "attestation") {
		t.Fatalf("dropped with: %v", got)
	}
}
