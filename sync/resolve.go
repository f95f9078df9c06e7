package sync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	gosync "sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// resolvedRef is one reference's manifests, read by resolveAll.
type resolvedRef struct {
	source    string
	ref       layout.Ref
	repo      *remote.Repository
	desc      ocispec.Descriptor
	g         *layout.Graph
	platforms []string
	config    configKeeper // the config read for platforms, kept for the copy
}

// resolveAll reads the manifests (and, for the report, the platform in a
// single image's config) of every reference, opts.Concurrency at once.
// One at a time, a pull of a thousand small images spent most of its wall
// time waiting on these round trips, two or more per image in series,
// before the first layer moved; the layers themselves were already
// copied in parallel.
//
// References are handed out in order and none is started after one has
// failed, so the error returned is that of the first reference in the
// list that fails among those tried, and nothing is read past it beyond
// what was already in flight.
func resolveAll(ctx context.Context, c *remote.Client, refs []string, opts PullOptions) ([]resolvedRef, error) {
	parsed := make([]layout.Ref, len(refs))
	for i, s := range refs {
		r, err := layout.ParseRef(s)
		if err != nil {
			return nil, err
		}
		parsed[i] = r
	}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = layout.AdaptiveMax // round trips, not bandwidth
	}
	workers = min(workers, len(refs))
	out := make([]resolvedRef, len(refs))
	errs := make([]error, len(refs))
	var (
		mu     gosync.Mutex
		next   int
		failed bool
		wg     gosync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if failed || next == len(refs) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range workers {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				out[i], errs[i] = resolveOne(ctx, c, refs[i], parsed[i], opts)
				if errs[i] != nil {
					mu.Lock()
					failed = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", parsed[i], err)
		}
	}
	return out, nil
}

// resolveOne reads one reference: its manifest (the digest in it, when
// given, is authoritative), the graph below it, and its platforms.
func resolveOne(ctx context.Context, c *remote.Client, source string, ref layout.Ref, opts PullOptions) (resolvedRef, error) {
	repo := c.Repository(ref, false)
	want := ref.Tag
	if ref.Digest != "" {
		want = ref.Digest.String()
	}
	desc, err := repo.Resolve(ctx, want)
	if err != nil {
		return resolvedRef{}, err
	}
	g, err := layout.Walk(ctx, repo, []ocispec.Descriptor{desc}, layout.WalkOptions{Platforms: opts.Platforms})
	if err != nil {
		return resolvedRef{}, err
	}
	out := resolvedRef{source: source, ref: ref, repo: repo, desc: desc, g: g, config: configKeeper{ReadOnly: repo}}
	if p := g.Platforms[desc.Digest]; len(p) > 0 || !opts.platformsFromCopy {
		out.platforms = layout.RootPlatforms(ctx, &out.config, g, desc)
	} // else nil: read from the layout after the copy (Plan.late)
	return out, nil
}

// configKeeper reads configs through to the repository, verified, and
// remembers the bytes of the one it read, so that the copy can be served
// them (Sources.KeepConfig) instead of asking the registry a second time.
type configKeeper struct {
	layout.ReadOnly
	desc ocispec.Descriptor
	raw  []byte
}

func (k *configKeeper) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if !layout.IsConfig(d.MediaType) {
		return k.ReadOnly.Fetch(ctx, d)
	}
	b, err := layout.ReadAll(ctx, k.ReadOnly, d, layout.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	k.desc, k.raw = d, b
	return io.NopCloser(bytes.NewReader(b)), nil
}
