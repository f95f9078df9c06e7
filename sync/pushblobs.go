package sync

import (
	"context"
	"io"
	gosync "sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// DefaultPushConcurrency is how many blobs a push has in flight, across
// all its images, when the caller does not say. Uploads are sequential
// within a blob (the spec orders its chunks), so a link whose connections
// are each capped (TCP windows over long round trips, per-stream limits)
// fills only with many blobs at once; eight keep a 25 ms, 25 MB/s per
// connection link busy with the blob sizes of real images while costing
// little memory (a write buffer and a hash buffer each, about 2 MiB).
const DefaultPushConcurrency = 8

// blobPush is one image's share of a push's blob phase.
type blobPush struct {
	src   layout.ReadOnly
	g     *layout.Graph
	dst   *countingStore
	blobs [2][]ocispec.Descriptor // first sight of a digest on its host, then the rest
	err   error
}

// pushAllBlobs sends the blobs of every image at once, at most limit in
// flight over all of them. A digest several images share goes first with
// one of them and only then with the others: by then the registry has it
// (a HEAD skips it) or another repository there does (it is mounted), as
// when images went one after the other, so no blob is sent twice and no
// request is added. An image whose blobs fail keeps its error; the others
// go on.
func pushAllBlobs(ctx context.Context, work []*blobPush, hosts []string, limit int, opts PushOptions) {
	seen := map[string]bool{}
	for i, w := range work {
		for _, b := range w.g.Blobs {
			k := hosts[i] + " " + b.Digest.String()
			wave := 0
			if seen[k] {
				wave = 1
			}
			seen[k] = true
			w.blobs[wave] = append(w.blobs[wave], b)
		}
	}
	gate := make(chan struct{}, limit)
	for wave := range 2 {
		// At most limit images copy at once, each with up to limit
		// blobs waiting on the gate: open source files stay bounded.
		images := make(chan struct{}, limit)
		var wg gosync.WaitGroup
		for _, w := range work {
			if w.err != nil || len(w.blobs[wave]) == 0 {
				continue
			}
			images <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-images; wg.Done() }()
				g := &layout.Graph{Blobs: w.blobs[wave]}
				dst := &gatedStore{Store: w.dst, gate: gate}
				w.err = layout.Copy(ctx, w.src, dst, g, layout.CopyOptions{Concurrency: limit, SkipExisting: true, Progress: opts.Progress, Retry: remote.Retryable})
			}()
		}
		wg.Wait()
	}
}

// gatedStore holds a slot of the push's gate for each request-making
// call, so the blobs of all images share one limit.
type gatedStore struct {
	layout.Store
	gate chan struct{}
}

func (s *gatedStore) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	select {
	case s.gate <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.gate }()
	return s.Store.Exists(ctx, d)
}

func (s *gatedStore) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	select {
	case s.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.gate }()
	return s.Store.Push(ctx, d, r)
}
