package sync

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// PushOptions tune Push.
type PushOptions struct {
	// To rewrites names to another registry and prefix ("host[/prefix]"),
	// keeping repository paths; empty pushes under the names carried.
	To string
	// As pushes a single image under exactly this name (ferry copy).
	As          *layout.Ref
	DryRun      bool
	Concurrency int
	Progress    func(int64)
}

// Pushed is one line of the digest map Push returns.
type Pushed struct {
	Source string        `json:"source"`
	Target string        `json:"target"`
	Digest digest.Digest `json:"digest"`
	// Blobs counts blobs sent; Skipped those the registry already had.
	Blobs   int `json:"blobs"`
	Skipped int `json:"skipped"`
}

// Target computes where an image goes: its own name, or rewritten under
// to (registry[/prefix]) with the repository path kept.
func Target(im layout.Image, to string) (layout.Ref, error) {
	if im.Ref.Repo == "" {
		return layout.Ref{}, fmt.Errorf("image %s has no repository name; name it with `ferry tag` first", im.Name())
	}
	r := layout.Ref{Repo: im.Ref.Repo, Tag: im.Ref.Tag}
	if to != "" {
		_, path, _ := strings.Cut(im.Ref.Repo, "/")
		repo := strings.TrimSuffix(to, "/") + "/" + path
		parsed, err := layout.ParseRef(repo + ":x")
		if err != nil {
			return layout.Ref{}, fmt.Errorf("--to %s: %w", to, err)
		}
		r.Repo = parsed.Repo
	}
	return r, nil
}

// Push sends images from src to their registries: blobs first (each
// verified as it is read, skipped when the registry has it), then
// manifests children before parents, exactly as stored, then the tag.
func Push(ctx context.Context, c *Client, src layout.Store, images []layout.Image, opts PushOptions) ([]Pushed, error) {
	var out []Pushed
	// Referrers carried without a name go to the repository of the image
	// they refer to, by digest.
	subjectRepo := map[digest.Digest]string{}
	for _, im := range images {
		if t, err := Target(im, opts.To); err == nil {
			subjectRepo[im.Desc.Digest] = t.Repo
			if g, err := layout.Walk(ctx, src, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{AllowMissing: true}); err == nil {
				for _, n := range g.Nodes {
					subjectRepo[n.Desc.Digest] = t.Repo
				}
			}
		}
	}
	for _, im := range images {
		target, err := Target(im, opts.To)
		if opts.As != nil {
			target, err = *opts.As, nil
		}
		if err != nil && im.Ref.Repo == "" {
			if n, ferr := layout.FetchNode(ctx, src, im.Desc); ferr == nil && n.Subject() != nil && subjectRepo[n.Subject().Digest] != "" {
				target, err = layout.Ref{Repo: subjectRepo[n.Subject().Digest]}, nil
			}
		}
		if err != nil {
			return out, err
		}
		repo := c.Repository(target, true)
		g, err := layout.Walk(ctx, src, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{CheckBlobs: true})
		if err != nil {
			return out, fmt.Errorf("push %s: %w", im.Name(), err)
		}
		p := Pushed{Source: im.Name(), Target: layout.Ref{Repo: target.Repo, Tag: target.Tag, Digest: im.Desc.Digest}.String(), Digest: im.Desc.Digest}
		counting := &countingStore{Store: repo}
		if opts.DryRun {
			for _, b := range g.Blobs {
				if ok, err := repo.Exists(ctx, b); err == nil && ok {
					p.Skipped++
				} else {
					p.Blobs++
				}
			}
			out = append(out, p)
			continue
		}
		if err := layout.Copy(ctx, src, counting, g, layout.CopyOptions{Concurrency: opts.Concurrency, SkipExisting: true, Progress: opts.Progress, Retry: Retryable}); err != nil {
			return out, fmt.Errorf("push %s to %s: %w", im.Name(), target.Repo, err)
		}
		if target.Tag != "" {
			root := g.Node(im.Desc.Digest)
			if root == nil {
				return out, fmt.Errorf("push %s: %s is not a manifest or index", im.Name(), im.Desc.Digest)
			}
			if err := repo.Tag(ctx, im.Desc, root.Raw, target.Tag); err != nil {
				return out, err
			}
		}
		p.Blobs = int(counting.pushed.Load())
		p.Skipped = len(g.Blobs) + len(g.Nodes) - p.Blobs
		out = append(out, p)
	}
	return out, nil
}
