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
	// Referrers also carries signatures, SBOMs and attestations: the
	// referrers of every manifest pulled (API or fallback tag) and
	// cosign's .sig/.att/.sbom tags, each under its subject's repository.
	Referrers   bool
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
		if opts.Referrers {
			ims, gs, err := pullReferrers(ctx, repo, ref.Repo, g, dst, opts)
			if err != nil {
				return nil, fmt.Errorf("pull %s: referrers: %w", ref, err)
			}
			images, graphs = append(images, ims...), append(graphs, gs...)
			for _, im := range ims {
				out = append(out, Pulled{Name: im.Name(), Source: "referrer of " + s, Digest: im.Desc.Digest, Platforms: []string{}})
			}
		}
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

// pullReferrers fetches what refers to the manifests of g, recursively (a
// signature of an SBOM), naming each by digest in its subject's repository
// or, for cosign tags, by the tag.
func pullReferrers(ctx context.Context, repo *Repository, name string, g *layout.Graph, dst *layout.Dir, opts PullOptions) ([]layout.Image, []*layout.Graph, error) {
	var images []layout.Image
	var graphs []*layout.Graph
	seen := map[digest.Digest]bool{}
	queue := []digest.Digest{}
	for _, n := range g.Nodes {
		queue = append(queue, n.Desc.Digest)
	}
	for depth := 0; len(queue) > 0 && depth < 4; depth++ {
		var next []digest.Digest
		for _, subject := range queue {
			refs, err := repo.Referrers(ctx, subject)
			if err != nil {
				return nil, nil, err
			}
			tags, err := repo.CosignTags(ctx, subject)
			if err != nil {
				return nil, nil, err
			}
			type found struct {
				desc ocispec.Descriptor
				tag  string
			}
			var all []found
			for _, d := range refs {
				all = append(all, found{desc: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
			}
			for tag, d := range tags {
				all = append(all, found{desc: d, tag: tag})
			}
			for _, f := range all {
				key := f.desc.Digest + digest.Digest(f.tag)
				if seen[key] {
					continue
				}
				seen[key] = true
				rg, err := layout.Walk(ctx, repo, []ocispec.Descriptor{f.desc}, layout.WalkOptions{Platforms: opts.Platforms})
				if err != nil {
					return nil, nil, err
				}
				if err := layout.Copy(ctx, repo, dst, rg, layout.CopyOptions{Concurrency: opts.Concurrency, SkipExisting: true, Retry: Retryable}); err != nil {
					return nil, nil, err
				}
				r := layout.Ref{Repo: name, Tag: f.tag}
				images = append(images, layout.Image{Ref: r, Desc: layout.Annotate(f.desc, r), NameFrom: layout.NameFromContainerd})
				graphs = append(graphs, rg)
				for _, n := range rg.Nodes {
					next = append(next, n.Desc.Digest)
				}
			}
		}
		queue = next
	}
	return images, graphs, nil
}
