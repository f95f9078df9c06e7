package sync

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/s3"
)

// CopyOptions tune Copy. The zero value copies every platform with the
// default concurrency into an archive of the default shape.
type CopyOptions struct {
	Platforms   []ocispec.Platform
	Concurrency int
	// Referrers also carries what refers to images read from a registry.
	Referrers bool
	// Format shapes an archive destination.
	Format archive.Format
	// VolumeSize, if set, cuts an archive destination into volumes.
	VolumeSize int64
	Progress   func(int64)
	// Total, if set, learns the bytes to transfer once manifests are read.
	Total func(int64)
	// Have makes an archive destination a delta: what it names stays out.
	Have *layout.HaveList
	// S3 reaches the server of an s3:// endpoint.
	S3 s3.Config
}

// Copied is what a copy did, reported in the terms of its destination:
// the digest map of a push, the images an import added, the archive
// written. Pulled is set whenever the images came from a registry.
type Copied struct {
	Pulled   []Pulled
	Pushed   []Pushed
	Imported *archive.ImportResult
	Written  *archive.Result
	Stored   *s3.Result // into a bucket
	// Cleaned is what killed runs had left in a destination layout and
	// a pull into it removed (an import says so in Imported's notes).
	Cleaned []layout.Leftover
}

// Result is the destination's report, for --json.
func (c *Copied) Result() any {
	switch {
	case c.Pushed != nil:
		return c.Pushed
	case c.Imported != nil:
		return c.Imported
	case c.Written != nil:
		return c.Written
	case c.Stored != nil:
		return c.Stored
	}
	return c.Pulled
}

// source is an opened side to read from: a read-only store and the
// images chosen in it.
type source struct {
	store  layout.ReadOnly
	images []layout.Image
	plan   *Plan // set when the images come from registries
	close  func() error
}

// Copy moves images between any two targets, digests unchanged: from a
// registry (the references in from.Names), a layout or an archive, to a
// registry, a layout or an archive. Every byte is verified as it is read;
// nothing becomes visible at the destination before it is complete.
//
// Two routes keep their own writer because their guarantees differ: into
// a layout from a registry or a web server, blobs are committed as they
// arrive so that a re-run resumes (Pull); into a layout from an archive,
// everything is staged and committed at once, and a compressed archive is
// read in one pass (archive.Import). Every other route is one store read through a
// walk into one writer.
func Copy(ctx context.Context, c *remote.Client, from, to Endpoint, opts CopyOptions) (*Copied, error) {
	if to.Kind == S3 && (opts.Format != archive.Both || opts.VolumeSize > 0) {
		return nil, fmt.Errorf("copy: --format and --volume-size shape an archive; %s is a layout in a bucket", to.Path)
	}
	if opts.Have != nil && to.Kind != Archive {
		return nil, fmt.Errorf("copy: a have-list cuts a delta archive; the destination is a %s (name a .tar, .tar.gz or .tar.zst)", to.Kind)
	}
	if to.Kind == Web {
		return nil, fmt.Errorf("copy: %s is a web server, which ferry only reads; write a layout directory (oci:DIR) and publish DIR", to.Path)
	}
	if (from.Kind == Layout || from.Kind == Archive) && to.Kind == Layout {
		res, err := archive.Import(ctx, from.Path, to.Path, archive.ImportOptions{Names: from.Names, Platforms: opts.Platforms,
			Concurrency: opts.Concurrency, Progress: opts.Progress, Total: opts.Total})
		if err != nil {
			return nil, err
		}
		return &Copied{Imported: res}, nil
	}
	src, err := openSource(ctx, c, from, opts, to.Kind == Layout)
	if err != nil {
		return nil, err
	}
	defer src.close()
	out := &Copied{}
	if src.plan != nil {
		out.Pulled = src.plan.Pulled
	}
	switch to.Kind {
	case Registry:
		po := PushOptions{Platforms: opts.Platforms, Concurrency: opts.Concurrency, Progress: opts.Progress}
		if len(to.Names) != 1 {
			return nil, fmt.Errorf("copy: name one registry destination (REGISTRY[/PREFIX] or a full name), not %d", len(to.Names))
		}
		if r, err := layout.ParseRef(to.Names[0]); err == nil && len(src.images) == 1 && hasTag(to.Names[0]) && r.Digest == "" {
			po.As = &r
		} else {
			po.To = to.Names[0]
		}
		out.Pushed, err = Push(ctx, c, src.store, src.images, po)
	case Layout:
		if src.plan == nil { // from a bucket
			if src.plan, err = planOf(ctx, src, from.Path, opts); err != nil {
				return nil, err
			}
			out.Pulled = src.plan.Pulled
		}
		err = src.plan.into(ctx, to.Path, opts)
		out.Cleaned = src.plan.Cleaned
	case S3:
		var dst *s3.Store
		if dst, err = s3.Open(to.Path, opts.S3); err == nil {
			out.Stored, err = dst.Write(ctx, src.store, src.images, s3.WriteOptions{Platforms: opts.Platforms,
				Concurrency: opts.Concurrency, Progress: opts.Progress, Total: opts.Total})
		}
	case Archive:
		out.Written, err = archive.Write(ctx, src.store, src.images, to.Path, archive.WriteOptions{Platforms: opts.Platforms,
			Format: opts.Format, VolumeSize: opts.VolumeSize, Progress: opts.Progress, Total: opts.Total, Have: opts.Have})
	}
	if err != nil {
		if from.Kind == S3 {
			return nil, fmt.Errorf("%s: %w", from.Path, err)
		}
		return nil, err
	}
	return out, nil
}

// hasTag reports whether a destination names a tag, not just a registry
// and prefix: its last path element has a colon (a port never does).
func hasTag(s string) bool {
	return strings.Contains(s[strings.LastIndex(s, "/")+1:], ":")
}

// intoLayout says the images go into a layout, where a single image's
// platform is read from its config once the copy put it there
// (PullOptions.platformsFromCopy).
func openSource(ctx context.Context, c *remote.Client, t Endpoint, opts CopyOptions, intoLayout bool) (*source, error) {
	if t.Kind == Registry {
		if len(t.Names) == 0 {
			return nil, fmt.Errorf("copy: name an image to read from the registry")
		}
		p, err := Resolve(ctx, c, t.Names, PullOptions{Platforms: opts.Platforms, Referrers: opts.Referrers, Concurrency: opts.Concurrency, platformsFromCopy: intoLayout})
		if err != nil {
			return nil, err
		}
		return &source{store: p.Sources, images: p.Images, plan: p, close: func() error { return nil }}, nil
	}
	switch t.Kind {
	case Web:
		return openWeb(ctx, c, t, opts)
	case S3:
		return openBucket(ctx, t, opts.S3)
	}
	// A compressed archive or set is refused from its first bytes, not
	// after a pass over all of it.
	src, err := archive.Open(ctx, t.Path, archive.OpenOptions{InPlace: true})
	if err != nil {
		return nil, err
	}
	images, err := archive.Select(src.Images, t.Names)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	return &source{store: src, images: images, close: src.Close}, nil
}
