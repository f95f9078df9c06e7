package layout_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// multiArch is an index over amd64 and arm64 images, each with a BuildKit
// attestation.
type multiArch struct {
	Index                        ocispec.Descriptor
	AMD64, ARM64                 testImage
	AttAMD64, AttARM64           ocispec.Descriptor
	AttAMD64Image, AttARM64Image testImage
}

func buildMultiArch(t testing.TB, s layout.Store) multiArch {
	t.Helper()
	var m multiArch
	m.AMD64 = buildImage(t, s, &ocispec.Platform{OS: "linux", Architecture: "amd64"}, 2)
	m.ARM64 = buildImage(t, s, &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 2)
	m.AttAMD64, m.AttAMD64Image = buildAttestation(t, s, m.AMD64.Manifest)
	m.AttARM64, m.AttARM64Image = buildAttestation(t, s, m.ARM64.Manifest)
	m.Index = buildIndex(t, s, m.AMD64.Manifest, m.ARM64.Manifest, m.AttAMD64, m.AttARM64)
	return m
}

func TestWalkAll(t *testing.T) {
	s := memstore.New()
	m := buildMultiArch(t, s)
	g, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{m.Index}, layout.WalkOptions{CheckBlobs: true})
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := digests(m.Index, m.AMD64.Manifest, m.ARM64.Manifest, m.AttAMD64, m.AttARM64)
	if got := nodeDigests(g); !slices.Equal(got, wantNodes) {
		t.Fatalf("nodes %v, want %v", got, wantNodes)
	}
	var blobs []ocispec.Descriptor
	for _, im := range []testImage{m.AMD64, m.ARM64, m.AttAMD64Image, m.AttARM64Image} {
		blobs = append(blobs, im.blobs()...)
	}
	if got, want := digests(g.Blobs...), digests(blobs...); !slices.Equal(got, want) {
		t.Fatalf("blobs %v, want %v", got, want)
	}
	if len(g.Filtered) != 0 || len(g.Missing) != 0 {
		t.Fatalf("Filtered %d, Missing %d; want none", len(g.Filtered), len(g.Missing))
	}
	// Attestations are not platforms of the image.
	if got := g.Platforms[m.Index.Digest]; !slices.Equal(got, []string{"linux/amd64", "linux/arm64/v8"}) {
		t.Fatalf("Platforms = %q", got)
	}
	if g.Node(m.Index.Digest) == nil || g.Node(m.Index.Digest).Index == nil {
		t.Fatal("Node(index) not recorded")
	}
	sizes := map[digest.Digest]int64{} // the two attestations share a config
	for _, d := range append(blobs, m.Index, m.AMD64.Manifest, m.ARM64.Manifest, m.AttAMD64, m.AttARM64) {
		sizes[d.Digest] = d.Size
	}
	var size int64
	for _, n := range sizes {
		size += n
	}
	if g.Size() != size {
		t.Fatalf("Size() = %d, want %d", g.Size(), size)
	}
}

// Children come before their parents, so a copy never writes a manifest
// whose content is not there yet.
func TestWalkOrder(t *testing.T) {
	s := memstore.New()
	m := buildMultiArch(t, s)
	outer := buildIndex(t, s, m.Index)
	g, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{outer}, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[digest.Digest]int{}
	for i, n := range g.Nodes {
		pos[n.Desc.Digest] = i
	}
	for i, n := range g.Nodes {
		for _, c := range n.Children() {
			if j, ok := pos[c.Digest]; ok && j > i {
				t.Fatalf("%s comes after its parent %s", c.Digest, n.Desc.Digest)
			}
		}
	}
	if g.Nodes[len(g.Nodes)-1].Desc.Digest != outer.Digest {
		t.Fatal("the root is not last")
	}
}

func TestWalkPlatformFilter(t *testing.T) {
	s := memstore.New()
	m := buildMultiArch(t, s)
	plats, err := layout.ParsePlatforms("linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	g, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{m.Index}, layout.WalkOptions{Platforms: plats})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nodeDigests(g), digests(m.Index, m.ARM64.Manifest, m.AttARM64); !slices.Equal(got, want) {
		t.Fatalf("nodes %v, want arm64 manifest, its attestation and the index %v", got, want)
	}
	if got, want := digests(g.Filtered...), digests(m.AMD64.Manifest, m.AttAMD64); !slices.Equal(got, want) {
		t.Fatalf("Filtered %v, want %v", got, want)
	}
	for _, b := range g.Blobs {
		if slices.Contains(digests(m.AMD64.blobs()...), b.Digest) {
			t.Fatalf("amd64 blob %s walked despite the filter", b.Digest)
		}
	}
	if got := g.Platforms[m.Index.Digest]; !slices.Equal(got, []string{"linux/arm64/v8"}) {
		t.Fatalf("Platforms = %q", got)
	}
	// A filter nothing matches keeps only the index.
	plats, _ = layout.ParsePlatforms("linux/s390x")
	g, err = layout.Walk(context.Background(), s, []ocispec.Descriptor{m.Index}, layout.WalkOptions{Platforms: plats})
	if err != nil || len(g.Nodes) != 1 || len(g.Filtered) != 4 {
		t.Fatalf("s390x: %d nodes, %d filtered, %v", len(g.Nodes), len(g.Filtered), err)
	}
}

func TestWalkMissing(t *testing.T) {
	ctx := context.Background()
	full := memstore.New()
	im := buildImage(t, full, nil, 2)
	sparse := memstore.New()
	for _, d := range []ocispec.Descriptor{im.Manifest, im.Config} {
		pushBytes(t, sparse, d.MediaType, mustFetch(t, full, d))
	}
	roots := []ocispec.Descriptor{im.Manifest}
	if _, err := layout.Walk(ctx, sparse, roots, layout.WalkOptions{CheckBlobs: true}); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("missing layer with CheckBlobs: %v, want ErrNotFound", err)
	}
	g, err := layout.Walk(ctx, sparse, roots, layout.WalkOptions{CheckBlobs: true, AllowMissing: true})
	if err != nil || !slices.Equal(digests(g.Missing...), digests(im.Layers...)) {
		t.Fatalf("AllowMissing: Missing %v, %v", g.Missing, err)
	}
	// Without CheckBlobs, leaves are planned but not looked up.
	if g, err := layout.Walk(ctx, sparse, roots, layout.WalkOptions{}); err != nil || len(g.Blobs) != 3 {
		t.Fatalf("no CheckBlobs: %v", err)
	}
	absent := buildIndex(t, full, im.Manifest)
	if _, err := layout.Walk(ctx, sparse, []ocispec.Descriptor{absent}, layout.WalkOptions{}); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("missing index: %v, want ErrNotFound", err)
	}
	g, err = layout.Walk(ctx, sparse, []ocispec.Descriptor{absent}, layout.WalkOptions{AllowMissing: true})
	if err != nil || len(g.Missing) != 1 || g.Missing[0].Digest != absent.Digest {
		t.Fatalf("AllowMissing index: %+v, %v", g, err)
	}
}

func TestWalkRefusesBadNodes(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	schema1 := pushBytes(t, s, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":1,"fsLayers":[]}`))
	big := pushBytes(t, s, ocispec.MediaTypeImageIndex, make([]byte, 5<<20))
	im := buildImage(t, s, nil, 1)
	wrongSize := im.Manifest
	wrongSize.Size++
	for name, tc := range map[string]struct {
		d    ocispec.Descriptor
		want error
	}{
		"schema1":      {schema1, layout.ErrInvalid},
		"5 MiB":        {big, layout.ErrTooLarge},
		"wrong size":   {wrongSize, layout.ErrSizeMismatch},
		"index as doc": {buildIndex(t, s, schema1), layout.ErrInvalid},
	} {
		if _, err := layout.Walk(ctx, s, []ocispec.Descriptor{tc.d}, layout.WalkOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: Walk = %v, want %v", name, err, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := layout.Walk(cctx, s, []ocispec.Descriptor{im.Manifest}, layout.WalkOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Walk: %v", err)
	}
}

// chain nests depth indexes above a manifest and returns the outermost.
func chain(t *testing.T, s layout.Store, depth int) ocispec.Descriptor {
	d := buildImage(t, s, nil, 1).Manifest
	for range depth {
		d = buildIndex(t, s, d)
	}
	return d
}

// FORMATS.md §8.5 item 10.
func TestWalkDepth(t *testing.T) {
	s := memstore.New()
	if _, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{chain(t, s, 5)}, layout.WalkOptions{}); err != nil {
		t.Fatalf("5 nested indexes: %v", err)
	}
	if _, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{chain(t, s, 100)}, layout.WalkOptions{}); !errors.Is(err, layout.ErrInvalid) {
		t.Fatalf("100 nested indexes: %v, want ErrInvalid", err)
	}
}

func TestWalkDedup(t *testing.T) {
	s := memstore.NewCounting(memstore.New())
	im := buildImage(t, s, &ocispec.Platform{OS: "linux", Architecture: "amd64"}, 2)
	refs := make([]ocispec.Descriptor, 10000)
	for i := range refs {
		refs[i] = im.Manifest
	}
	idx := buildIndex(t, s, refs...)
	s.Reset()
	g, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{idx, idx, im.Manifest}, layout.WalkOptions{CheckBlobs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || len(g.Blobs) != 3 {
		t.Fatalf("%d nodes, %d blobs; want 2 and 3", len(g.Nodes), len(g.Blobs))
	}
	if n := s.Fetched(im.Manifest.Digest); n != 1 {
		t.Fatalf("the shared manifest was fetched %d times", n)
	}
	if c := s.Counts(); c.Exists != 3 {
		t.Fatalf("%d Exists calls for 3 distinct blobs", c.Exists)
	}
}

// An index that references one child index many times, several levels
// deep, is small on disk but must not cost (fan-out)^depth to walk
// (FORMATS.md §7.10).
func TestWalkFanOutBomb(t *testing.T) {
	s := memstore.New()
	child := buildImage(t, s, &ocispec.Platform{OS: "linux", Architecture: "amd64"}, 1).Manifest
	for range 3 {
		refs := make([]ocispec.Descriptor, 10000)
		for i := range refs {
			refs[i] = child
		}
		child = buildIndex(t, s, refs...)
	}
	done := make(chan error, 1)
	go func() {
		_, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{child}, layout.WalkOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Walk of a 3-level fan-out index did not finish in 10s")
	}
}
