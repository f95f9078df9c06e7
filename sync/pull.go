package sync

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// PullOptions tune Pull.
type PullOptions struct {
	Platforms   []ocispec.Platform
	Concurrency int
	Progress    func(int64)
}

// Pulled is one image as pulled.
type Pulled struct {
	Name      string        `json:"name"`
	Source    string        `json:"source"`
	Digest    digest.Digest `json:"digest"`
	Platforms []string      `json:"platforms"`
	// Filtered is true when --platform left some of an index's platforms
	// out; the index itself is kept byte for byte (digest unchanged).
	Filtered bool  `json:"filtered"`
	Size     int64 `json:"size"`
}

// Pull copies the images refs name from their registries into the layout
// at dir. Every blob is verified and committed as it arrives, so a re-run
// after an interruption fetches only what is missing; the index.json
// entries are written last, once every image is complete.
func Pull(ctx context.Context, c *Client, refs []string, dir string, opts PullOptions) ([]Pulled, error) {
	dst, err := layout.CreateDir(dir)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	var out []Pulled
	var images []layout.Image
	var graphs []*layout.Graph
	for _, s := range refs {
		ref, err := layout.ParseRef(s)
		if err != nil {
			return nil, err
		}
		repo := c.Repository(ref, false)
		want := ref.Tag
		if ref.Digest != "" {
			want = ref.Digest.String() // the digest is authoritative
		}
		desc, err := repo.Resolve(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		g, err := layout.Walk(ctx, repo, []ocispec.Descriptor{desc}, layout.WalkOptions{Platforms: opts.Platforms})
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		if err := layout.Copy(ctx, repo, dst, g, layout.CopyOptions{Concurrency: opts.Concurrency, SkipExisting: true, Progress: opts.Progress, Retry: Retryable}); err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		name := ref
		if ref.Tag == "" {
			name = layout.Ref{Repo: ref.Repo}
		}
		images = append(images, layout.Image{Ref: name, Desc: layout.Annotate(desc, name), NameFrom: layout.NameFromContainerd})
		graphs = append(graphs, g)
		out = append(out, Pulled{Name: layout.Ref{Repo: ref.Repo, Tag: ref.Tag, Digest: desc.Digest}.String(), Source: s, Digest: desc.Digest,
			Platforms: layout.RootPlatforms(ctx, repo, g, desc), Filtered: len(g.Filtered) > 0, Size: g.Size()})
	}
	err = dst.UpdateIndex(func(cur []layout.Image) ([]layout.Image, error) {
		// Under the lock: a gc that ran meanwhile must not leave an entry
		// pointing at deleted blobs.
		for _, g := range graphs {
			for _, b := range g.Blobs {
				if ok, err := dst.Exists(ctx, b); err != nil || !ok {
					return nil, fmt.Errorf("blob %s vanished before the pull committed (a concurrent gc?); run the pull again", b.Digest)
				}
			}
		}
		return layout.MergeImages(cur, images), nil
	})
	return out, err
}
