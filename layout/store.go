package layout

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is the one interface all content flows through. It is keyed by
// descriptor, never by path or name, so that a directory, an archive and a
// registry are interchangeable to Copy and to verify.
type Store interface {
	// Fetch returns the content of d. It is not verified: callers wrap it in
	// a VerifyReader (Copy and ReadAll do) so the check lives in one place.
	Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
	// Push stores the content of d read from r. It must verify size and
	// digest before the content becomes visible, and leave nothing behind
	// on failure.
	Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error
	// Exists reports whether d is present with its expected size.
	Exists(ctx context.Context, d ocispec.Descriptor) (bool, error)
}

// Lister is implemented by stores that can enumerate the blobs they hold, so
// that verify can find blobs nothing references and gc can drop them.
type Lister interface {
	Blobs(ctx context.Context) ([]BlobInfo, error)
}

// BlobInfo describes a stored blob as found, before it is verified.
type BlobInfo struct {
	Path string `json:"path"` // where it is stored, for messages
	Size int64  `json:"size"`
	// Digest is the digest its name claims; empty if the name is not a
	// valid digest (the Err field then says why).
	Digest digest.Digest `json:"digest,omitempty"`
	Err    error         `json:"-"`
}
