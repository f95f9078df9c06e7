package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Sources is a read-only store over the repositories a pull resolved: each
// digest is fetched from the repository it was found in, and manifests
// come from the verified bytes the walk already holds. It lets
// archive.Write stream images from registries straight into a tar.
type Sources struct {
	mu     sync.Mutex
	routes map[digest.Digest]*Repository
	docs   map[digest.Digest][]byte
	kept   int64 // config bytes in docs (KeepConfig)
}

var _ layout.ReadOnly = (*Sources)(nil)

func (r *Sources) route(d digest.Digest) (*Repository, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routes[d], r.docs[d]
}

// Fetch implements layout.Store.
func (r *Sources) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	repo, doc := r.route(d.Digest)
	if doc != nil {
		return io.NopCloser(bytes.NewReader(doc)), nil
	}
	if repo == nil {
		return nil, fmt.Errorf("%s is not part of the images resolved: %w", d.Digest, layout.ErrNotFound)
	}
	return repo.Fetch(ctx, d)
}

// Exists implements layout.Store: everything the walk found exists.
func (r *Sources) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	repo, doc := r.route(d.Digest)
	return repo != nil || doc != nil, nil
}

// Info implements layout.ReadOnly from the repository the digest was
// resolved in; a manifest the walk holds is answered without a request.
func (r *Sources) Info(ctx context.Context, d digest.Digest) (layout.BlobInfo, error) {
	repo, doc := r.route(d)
	if doc != nil {
		return layout.BlobInfo{Digest: d, Size: int64(len(doc)), Path: "(resolved) " + d.String()}, nil
	}
	if repo == nil {
		return layout.BlobInfo{}, fmt.Errorf("%s is not part of the images resolved: %w", d, layout.ErrNotFound)
	}
	return repo.Info(ctx, d)
}

// NewSources returns an empty set of sources.
func NewSources() *Sources {
	return &Sources{routes: map[digest.Digest]*Repository{}, docs: map[digest.Digest][]byte{}}
}

// Add records that the walk found g in repo: its documents are served from
// the verified bytes the walk holds, its blobs from the first repository
// that listed them.
func (r *Sources) Add(repo *Repository, g *layout.Graph) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range g.Nodes {
		r.routes[n.Desc.Digest] = repo
		r.docs[n.Desc.Digest] = n.Raw
	}
	for _, b := range g.Blobs {
		if _, ok := r.routes[b.Digest]; !ok {
			r.routes[b.Digest] = repo
		}
	}
}
