package layout_test

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestUnionSharesBlobs: two images with a common layer give one graph in
// which the layer appears once and every manifest follows its children.
func TestUnionSharesBlobs(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	a := testimage.Build(t, s, "amd64", "same content")
	b := testimage.Build(t, s, "arm64", "same content") // same layer, other config
	ga, err := layout.Walk(ctx, s, []ocispec.Descriptor{a.Manifest}, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := layout.Walk(ctx, s, []ocispec.Descriptor{b.Manifest}, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := layout.Union(ga, gb, ga)
	if len(u.Blobs) != 3 || len(u.Nodes) != 2 {
		t.Fatalf("union: %d blobs, %d nodes; want 3 and 2", len(u.Blobs), len(u.Nodes))
	}
	if u.Owner(a.Layer.Digest) != a.Manifest.Digest || u.Owner(b.Config.Digest) != b.Manifest.Digest {
		t.Fatal("union lost which image a blob came with")
	}
	dst := memstore.New()
	if err := layout.Copy(ctx, s, dst, u, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []ocispec.Descriptor{a.Manifest, b.Manifest, a.Layer, a.Config, b.Config} {
		if ok, _ := dst.Exists(ctx, d); !ok {
			t.Fatalf("%s not copied", d.Digest)
		}
	}
}
