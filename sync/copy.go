package sync

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// CopyImage copies one image between registries, byte for byte: blobs the
// target lacks, then manifests children first, then the tag. It returns
// the digest, which is the same on both sides.
func CopyImage(ctx context.Context, c *Client, src, dst layout.Ref, opts PullOptions) (Pushed, error) {
	from := c.Repository(src, false)
	want := src.Tag
	if src.Digest != "" {
		want = src.Digest.String()
	}
	desc, err := from.Resolve(ctx, want)
	if err != nil {
		return Pushed{}, fmt.Errorf("copy %s: %w", src, err)
	}
	g, err := layout.Walk(ctx, from, []ocispec.Descriptor{desc}, layout.WalkOptions{Platforms: opts.Platforms})
	if err != nil {
		return Pushed{}, fmt.Errorf("copy %s: %w", src, err)
	}
	to := &countingStore{Store: c.Repository(dst, true)}
	if err := layout.Copy(ctx, from, to, g, layout.CopyOptions{Concurrency: opts.Concurrency, SkipExisting: true, Progress: opts.Progress, Retry: Retryable}); err != nil {
		return Pushed{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if dst.Tag != "" {
		if err := c.Repository(dst, true).TagManifest(ctx, desc, g.Node(desc.Digest).Raw, dst.Tag); err != nil {
			return Pushed{}, err
		}
	}
	n := int(to.pushed.Load())
	return Pushed{Source: src.String(), Target: layout.Ref{Repo: dst.Repo, Tag: dst.Tag, Digest: desc.Digest}.String(), Digest: desc.Digest,
		Blobs: n, Skipped: len(g.Blobs) + len(g.Nodes) - n}, nil
}
