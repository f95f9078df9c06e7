package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// WriteOptions tune Write.
type WriteOptions struct {
	// Platforms keeps only these platforms of multi-platform images; the
	// index is kept byte for byte (digest unchanged) and the others' content
	// is left out, a sparse index as a layout pull writes it.
	Platforms   []ocispec.Platform
	Concurrency int
	Progress    func(int64)
	// Total, if set, learns the bytes to carry once the images are walked.
	Total func(int64)
}

// Result is what Write did, for --json.
type Result struct {
	URL    string         `json:"url"`
	Images []WrittenImage `json:"images"`
	// Uploaded counts the blobs and manifests sent, Skipped those the
	// bucket already held with the right size.
	Uploaded int   `json:"uploaded"`
	Skipped  int   `json:"skipped"`
	Size     int64 `json:"size"`
}

// WrittenImage is one image as index.json now names it.
type WrittenImage struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
}

// Write adds images from src to the bucket: every blob and manifest under
// its digest (verified as it streams, skipped when the bucket has it with
// the right size), children before parents, then oci-layout, then the
// names merged into index.json. Until that last write nothing names the
// new content, so a copy killed at any point leaves the bucket's layout
// as it was, plus unnamed blobs that a re-run skips.
func (s *Store) Write(ctx context.Context, src layout.ReadOnly, images []layout.Image, opts WriteOptions) (*Result, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("%s: no images to write", s.label)
	}
	named := make([]layout.Image, len(images))
	roots := make([]ocispec.Descriptor, len(images))
	for i, im := range images {
		named[i] = im
		if im.Ref.Repo != "" {
			named[i].Desc = layout.Annotate(im.Desc, im.Ref)
		}
		roots[i] = im.Desc
	}
	if cl := layout.NameClashes(named); len(cl) > 0 {
		return nil, fmt.Errorf("%s: %w: %s; ferry will not pick one: copy the one you mean by NAME@DIGEST", s.label, layout.ErrAmbiguous, cl[0])
	}
	g, err := layout.Walk(ctx, src, roots, layout.WalkOptions{Platforms: opts.Platforms, CheckBlobs: true, AllowMissing: true})
	if err != nil {
		var we *layout.WalkError
		if errors.As(err, &we) {
			return nil, fmt.Errorf("image %s: %w", nameOf(named, we.Root.Digest), err)
		}
		return nil, err
	}
	if err := Whole(g, named); err != nil {
		return nil, err
	}
	// Refused before the copy rather than after: an index.json over the
	// cap would lock every reader out of the layout.
	cur, _, err := s.images(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := layout.EncodeIndex(layout.MergeImages(cur, named), nil, s.label); err != nil {
		return nil, err
	}
	if opts.Total != nil {
		opts.Total(g.Size())
	}
	before := s.pushed.Load()
	if err := layout.Copy(ctx, src, s, g, layout.CopyOptions{Concurrency: opts.Concurrency, SkipExisting: true, Progress: opts.Progress, Retry: Retryable}); err != nil {
		var ce *layout.CopyError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("image %s: %w", nameOf(named, g.Owner(ce.Desc.Digest)), err)
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // nothing is named after a cancel
	}
	if err := s.ensureLayout(ctx); err != nil {
		return nil, err
	}
	if err := s.addImages(ctx, named); err != nil {
		return nil, err
	}
	res := &Result{URL: s.label, Uploaded: int(s.pushed.Load() - before), Size: g.Size()}
	res.Skipped = len(g.Blobs) + len(g.Nodes) - res.Uploaded
	layout.SortImages(named)
	for _, im := range named {
		res.Images = append(res.Images, WrittenImage{Name: im.Name(), Digest: im.Desc.Digest})
	}
	return res, nil
}

// Whole refuses an image a graph walked with AllowMissing does not hold
// whole. Absent platforms of an index are allowed (a sparse source, as
// docker and ctr export them and pull --platform writes them, stays
// sparse); an absent root, or an absent config or layer of a manifest
// that is there, is an image that cannot be pulled.
func Whole(g *layout.Graph, images []layout.Image) error {
	roots := map[digest.Digest]bool{}
	for _, im := range images {
		roots[im.Desc.Digest] = true
	}
	for _, m := range g.Missing {
		if (layout.IsManifest(m.MediaType) || layout.IsIndex(m.MediaType)) && !roots[m.Digest] {
			continue
		}
		return fmt.Errorf("image %s: %s %s is absent from the source: %w", nameOf(images, g.Owner(m.Digest)), m.MediaType, m.Digest, layout.ErrNotFound)
	}
	return nil
}

func nameOf(images []layout.Image, d digest.Digest) string {
	for _, im := range images {
		if im.Desc.Digest == d {
			return im.Name()
		}
	}
	return d.String()
}
