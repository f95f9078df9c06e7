package sync

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/web"
)

// openWeb opens a layout on a web server as a copy source. It is planned
// like a registry pull, not like a layout on disk: the network may drop
// mid-copy, so into a layout its blobs are committed as they arrive and a
// re-run fetches only what is missing, where a local import stages
// everything and commits at once. Its entries keep their index.json
// descriptors, annotations and all, so names and digests arrive as they
// were exported.
func openWeb(ctx context.Context, c *remote.Client, t Endpoint, opts CopyOptions) (*source, error) {
	base, name, err := web.SplitURL(t.Path)
	if err != nil {
		return nil, err
	}
	names := t.Names
	if name != "" {
		names = append(names, name)
	}
	st, err := web.Open(ctx, c, base)
	if err != nil {
		return nil, err
	}
	images, err := archive.Select(st.Images(), names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	w := &walked{Store: st, docs: map[digest.Digest][]byte{}}
	p := &Plan{from: w, fromLabel: base}
	for _, im := range images {
		g, err := layout.Walk(ctx, w, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{Platforms: opts.Platforms})
		if err != nil {
			return nil, fmt.Errorf("%s: image %s: %w", base, im.Name(), err)
		}
		for _, n := range g.Nodes {
			w.docs[n.Desc.Digest] = n.Raw
		}
		p.add(im, g)
		plats := g.Platforms[im.Desc.Digest]
		if plats == nil {
			plats = []string{} // an artifact: none, as from a registry
		}
		p.Pulled = append(p.Pulled, Pulled{Name: im.Name(), Source: base, Digest: im.Desc.Digest,
			Platforms: plats, Filtered: len(g.Filtered) > 0, Size: g.Size()})
	}
	return &source{store: w, images: images, plan: p, close: func() error { return nil }}, nil
}

// walked serves the indexes and manifests a plan's walk already fetched
// and verified from the bytes its graphs hold (no second request, no
// second copy in memory), and everything else from the server.
type walked struct {
	*web.Store
	docs map[digest.Digest][]byte
}

func (w *walked) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if b, ok := w.docs[d.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return w.Store.Fetch(ctx, d)
}
