package sync

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/s3"
)

// openBucket reads a layout in a bucket as a copy's source: its
// index.json entries, those named in t.Names or all. Its blobs are read
// as the destination asks for them, each verified by the copy.
func openBucket(ctx context.Context, t Endpoint, cfg s3.Config) (*source, error) {
	st, err := s3.Open(t.Path, cfg)
	if err != nil {
		return nil, err
	}
	all, err := st.Names(ctx)
	if err != nil {
		return nil, err
	}
	images, err := archive.Select(all, t.Names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	return &source{store: st, images: images, close: st.Close}, nil
}

// planOf walks the images of a bucket into a plan, so a copy into a
// layout directory writes them the way a pull does: every blob committed
// as it arrives, a re-run fetching only what is missing, index.json last.
func planOf(ctx context.Context, src *source, url string, opts CopyOptions) (*Plan, error) {
	p := &Plan{from: src.store}
	for _, im := range src.images {
		// A bucket written with --platform is sparse, as a layout pull
		// with it is, and is read back so.
		g, err := layout.Walk(ctx, src.store, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{Platforms: opts.Platforms, AllowMissing: true})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name(), err)
		}
		if err := s3.Whole(g, []layout.Image{im}); err != nil {
			return nil, err
		}
		if im.Ref.Repo != "" {
			im.Desc = layout.Annotate(im.Desc, im.Ref)
		}
		p.add(im, g)
		p.Pulled = append(p.Pulled, Pulled{Name: im.Name(), Source: url, Digest: im.Desc.Digest, Platforms: g.Platforms[im.Desc.Digest],
			Filtered: len(g.Filtered) > 0, Size: g.Size()})
	}
	return p, nil
}
