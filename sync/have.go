package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	gosync "sync"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// HaveOptions tune RegistryHave.
type HaveOptions struct {
	// PageSize is the n of tags and catalog requests (0: the default).
	PageSize int
	// Concurrency is how many tags are resolved at once (0: the default);
	// a repository of thousands of tags is otherwise thousands of round
	// trips in a row.
	Concurrency int
	// Catalog says the repositories came from the registry's catalog: one
	// that is gone by the time its tags are asked for was deleted
	// meanwhile and is left out with a note. A repository the user named
	// that does not exist stays an error (a typo must not give an empty
	// list).
	Catalog bool
}

// HaveReport is what RegistryHave found besides the list: the documents it
// could not read, which the list leaves out (so their content travels).
type HaveReport struct {
	Repositories int      `json:"repositories"`
	Tags         int      `json:"tags"`
	Skipped      []string `json:"skipped,omitempty"`
}

// ParseRepository reads REGISTRY/REPO as the user names a repository to
// describe: no tag or digest, since every tag is listed.
func ParseRepository(s string) (layout.Ref, error) {
	n, err := reference.ParseNormalizedNamed(strings.TrimSpace(s))
	if err != nil {
		return layout.Ref{}, fmt.Errorf("%q is not a repository (expected REGISTRY/REPO, e.g. registry.example.com/team/app): %w", s, err)
	}
	if _, ok := n.(reference.Tagged); ok {
		return layout.Ref{}, fmt.Errorf("%q names a tag: give the repository alone, every tag of it is listed", s)
	}
	if _, ok := n.(reference.Digested); ok {
		return layout.Ref{}, fmt.Errorf("%q names a digest: give the repository alone, every tag of it is listed", s)
	}
	return layout.Ref{Repo: n.Name()}, nil
}

// CatalogRepositories names every repository the catalog of the registry
// at host lists, as full repository names.
func CatalogRepositories(ctx context.Context, c *remote.Client, host string, opts HaveOptions) ([]layout.Ref, error) {
	names, err := c.Catalog(ctx, host, opts.PageSize)
	if err != nil {
		return nil, err
	}
	out := make([]layout.Ref, 0, len(names))
	for _, n := range names {
		out = append(out, layout.Ref{Repo: host + "/" + n})
	}
	return out, nil
}

// RegistryHave describes what repos hold. A registry has no call that
// lists its blobs, so every tag of every repository is resolved and the
// manifests under it walked; the digests and sizes come from the
// manifests, which the registry checked against its blobs when they were
// pushed. Requests are few: a HEAD per tag, and a GET per manifest
// (a manifest under several tags or repositories is fetched once). A
// document that arrives corrupt or cannot be understood is left out of
// the list and reported, never guessed at: what is left out only travels
// again. One that cannot be fetched stops the run, except that a registry
// being updated may drop a tag between the tag list and its HEAD, or a
// repository between the catalog and its tag list: that one is left out
// with a note (HaveReport.Skipped) and the run goes on, since the list
// then says what the registry held a moment ago, which is all it ever says.
func RegistryHave(ctx context.Context, c *remote.Client, repos []layout.Ref, opts HaveOptions) (*layout.HaveList, *HaveReport, error) {
	h := &layout.HaveList{}
	rep := &HaveReport{Repositories: len(repos)}
	walked := map[digest.Digest]bool{}
	for _, ref := range repos {
		repo := c.Repository(ref, false)
		tags, err := repo.Tags(ctx, opts.PageSize)
		if err != nil {
			if opts.Catalog && errors.Is(err, layout.ErrNotFound) && ctx.Err() == nil {
				rep.Repositories--
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: the catalog listed it, but it was gone when its tags were asked for (deleted meanwhile?): %v", ref.Repo, err))
				continue
			}
			return nil, nil, err
		}
		descs, err := resolveTags(ctx, repo, ref, tags, opts.Concurrency)
		if err != nil {
			return nil, nil, err
		}
		var roots []ocispec.Descriptor
		for i, tag := range tags {
			d := descs[i]
			if d.gone != nil {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%s: the tag list named it, but it was gone when its manifest was asked for (deleted or moved meanwhile?): %v", ref.Repo, tag, d.gone))
				continue
			}
			rep.Tags++
			h.Images = append(h.Images, layout.HaveImage{Name: ref.Repo + ":" + tag, Digest: d.Digest})
			if !walked[d.Digest] {
				walked[d.Digest] = true
				roots = append(roots, d.Descriptor)
			}
		}
		g, err := layout.Walk(ctx, rereadManifests{repo.ReadOnly()}, roots, layout.WalkOptions{AllowMissing: true, KeepGoing: true})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ref.Repo, err)
		}
		for _, b := range g.Broken {
			if !untrustworthy(b.Err) {
				// Not the document's fault: a list made without it would
				// say less than the registry holds for no reason.
				return nil, nil, fmt.Errorf("%s: manifest %s: %w", ref.Repo, b.Desc.Digest, b.Err)
			}
		}
		for _, n := range g.Nodes {
			h.Add(n.Desc.Digest, n.Desc.Size)
			walked[n.Desc.Digest] = true
		}
		for _, b := range g.Blobs {
			h.Add(b.Digest, b.Size)
		}
		for _, b := range g.Broken {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", ref.Repo, b.Err))
		}
		for _, m := range g.Missing {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %s is referenced but absent", ref.Repo, m.Digest))
		}
		// Stop as soon as the list could not be written, not after
		// walking every repository that remains.
		if len(h.Images) > layout.MaxHaveListImages || h.Blobs() > layout.MaxHaveListBlobs {
			return nil, nil, fmt.Errorf("%s: %w: %d names and %d blobs so far; a have-list holds at most %d and %d (name fewer repositories)",
				ref.Repo, layout.ErrTooLarge, len(h.Images), h.Blobs(), layout.MaxHaveListImages, layout.MaxHaveListBlobs)
		}
	}
	return h, rep, nil
}

// resolvedTag is what a tag pointed at, or why it no longer points at
// anything (gone: the registry answered not found).
type resolvedTag struct {
	ocispec.Descriptor
	gone error
}

// resolveTags resolves every tag with a few requests in flight, keeping the
// tags' order. A tag that is not found is marked gone; any other failure
// stops the rest.
func resolveTags(ctx context.Context, repo *remote.Repository, ref layout.Ref, tags []string, workers int) ([]resolvedTag, error) {
	if workers <= 0 {
		workers = layout.DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]resolvedTag, len(tags))
	errs := make([]error, len(tags))
	next := make(chan int)
	var wg gosync.WaitGroup
	for range min(workers, len(tags)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i].Descriptor, errs[i] = repo.HeadTag(ctx, tags[i])
				if errs[i] != nil && errors.Is(errs[i], layout.ErrNotFound) && ctx.Err() == nil {
					out[i].gone, errs[i] = errs[i], nil
				}
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range tags {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("%s:%s: %w", ref.Repo, tags[i], err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// untrustworthy tells a document that is itself bad (undecodable, too big,
// not what its digest says), which the list leaves out, from a failure to
// fetch it, which stops the run.
func untrustworthy(err error) bool {
	for _, e := range []error{layout.ErrInvalid, layout.ErrTooLarge, layout.ErrDigestMismatch, layout.ErrSizeMismatch,
		layout.ErrInvalidDigest, layout.ErrUnsupportedDigest, layout.ErrUnsafe} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// rereadManifests reads each manifest whole and reads it again when the
// connection drops part way: the client retries a request that fails, but
// a body cut short is the reader's to retry, and a have-list is many
// small reads where one dropped connection would otherwise end the run.
type rereadManifests struct{ layout.ReadOnly }

func (r rereadManifests) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if !layout.IsIndex(d.MediaType) && !layout.IsManifest(d.MediaType) {
		return r.ReadOnly.Fetch(ctx, d)
	}
	for attempt := 0; ; attempt++ {
		rc, err := r.ReadOnly.Fetch(ctx, d)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(io.LimitReader(rc, min(d.Size, layout.MaxManifestSize)+1))
			rc.Close()
			if err == nil {
				return io.NopCloser(bytes.NewReader(b)), nil // verified by Walk
			}
		}
		if attempt >= 3 || ctx.Err() != nil || !remote.Retryable(err) {
			return nil, err
		}
	}
}
