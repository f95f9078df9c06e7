package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// planImage walks one image for a push. A sparse image (platforms whose
// blobs the source lacks, as docker and ctr export them) or a --platform
// subset cannot go as stored: a registry refuses an index whose children
// are absent, and pushing only some children behind the original index
// would leave a broken tag. So the index is narrowed to the complete,
// chosen entries and pushed under its new digest, and the result says
// what was left out and why. An image with nothing complete is refused.
func planImage(ctx context.Context, src layout.ReadOnly, im layout.Image, plats []ocispec.Platform) (layout.ReadOnly, layout.Image, *layout.Graph, []string, error) {
	opts := layout.WalkOptions{CheckBlobs: true, AllowMissing: true, Platforms: plats}
	g, err := layout.Walk(ctx, src, []ocispec.Descriptor{im.Desc}, opts)
	if err != nil {
		return nil, im, nil, nil, err
	}
	if len(g.Missing) == 0 && len(g.Filtered) == 0 {
		return src, im, g, nil, nil
	}
	root := g.Node(im.Desc.Digest)
	if root == nil || root.Index == nil {
		return nil, im, nil, nil, fmt.Errorf("%s %s: %w: the source does not hold this image whole, and it has no other platform to push instead", g.Missing[0].MediaType, g.Missing[0].Digest, layout.ErrNotFound)
	}
	filtered := map[digest.Digest]bool{}
	for _, f := range g.Filtered {
		filtered[f.Digest] = true
	}
	var left []string
	keep := func(c ocispec.Descriptor) bool {
		switch {
		case filtered[c.Digest]:
			left = append(left, fmt.Sprintf("%s %s: not asked for", entryLabel(c), c.Digest))
			return false
		case !g.Complete(c.Digest) && layout.IsIndex(c.MediaType):
			// Name what is absent below, as import and verify do, and
			// what goes with it: a nested index is kept or dropped whole.
			for _, e := range g.Entries(c.Digest, nil) {
				why := "absent from the source (sparse)"
				if e.State == layout.Whole {
					why = "complete, but left out with it"
				}
				left = append(left, fmt.Sprintf("%s %s: %s, under nested index %s, which ferry does not rewrite", entryLabel(e.Desc), e.Desc.Digest, why, c.Digest))
			}
			return false
		case !g.Complete(c.Digest):
			left = append(left, fmt.Sprintf("%s %s: absent from the source (sparse)", entryLabel(c), c.Digest))
			return false
		}
		return true
	}
	raw, err := layout.NarrowIndex(root.Raw, keep)
	if errors.Is(err, layout.ErrNotFound) {
		return nil, im, nil, nil, fmt.Errorf("index %s: no platform is complete in the source, nothing to push (left out: %v)", im.Desc.Digest, left)
	}
	if err != nil {
		return nil, im, nil, nil, fmt.Errorf("index %s: %w", im.Desc.Digest, err)
	}
	if len(left) == 0 {
		// Every entry stays, so what is absent or filtered lies deeper,
		// under a nested index, which is not rewritten: refuse rather
		// than push an index whose children are not all there.
		return nil, im, nil, nil, fmt.Errorf("index %s: a nested index is incomplete in the source or narrowed by --platform; ferry narrows only the top-level index, so it cannot push this image whole", im.Desc.Digest)
	}
	left = append(left, droppedWith(root, raw, left)...)
	w := layout.NewWithDoc(src, im.Desc.MediaType, raw)
	narrowed := im
	narrowed.Desc.Digest, narrowed.Desc.Size = w.Desc.Digest, w.Desc.Size
	narrowed.Desc.Platform = nil
	opts.AllowMissing = false
	if g, err = layout.Walk(ctx, w, []ocispec.Descriptor{narrowed.Desc}, opts); err != nil {
		return nil, im, nil, nil, err
	}
	return w, narrowed, g, left, nil
}

// droppedWith lists the entries NarrowIndex dropped along with a platform
// (buildkit's attestation manifests), which keep was never asked about.
func droppedWith(root *layout.Node, narrowed []byte, left []string) []string {
	var idx ocispec.Index
	if json.Unmarshal(narrowed, &idx) != nil {
		return nil
	}
	kept := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		kept[d.Digest] = true
	}
	said := strings.Join(left, "\n")
	var out []string
	for _, d := range root.Index.Manifests {
		if !kept[d.Digest] && !strings.Contains(said, d.Digest.String()) {
			out = append(out, fmt.Sprintf("%s %s: attestation of a platform left out", entryLabel(d), d.Digest))
		}
	}
	return out
}

// entryLabel names an index entry for a message: its platform, or what it
// is when it has none.
func entryLabel(d ocispec.Descriptor) string {
	if d.Platform != nil {
		return layout.PlatformString(d.Platform)
	}
	if layout.IsIndex(d.MediaType) {
		return "nested index"
	}
	return "entry"
}
