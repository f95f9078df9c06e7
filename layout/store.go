package layout

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The content model is a handful of small roles rather than one interface,
// so that what a store cannot do is visible in its type: an archive, a
// registry without push rights or a web server is a ReadOnly, and code that
// writes asks for a Writable. Every role is keyed by descriptor or name,
// never by path, so a directory, an archive and a registry are
// interchangeable to Walk, Copy and verify. One conformance suite
// (layout/storetest) holds every implementation to the same contract.

// ReadOnly is content that can be read and asked about.
type ReadOnly interface {
	// Fetch returns the content of d. It is not verified: callers wrap it in
	// a VerifyReader (Copy and ReadAll do) so the check lives in one place.
	// A stored blob whose size is not d.Size fails with ErrSizeMismatch, an
	// absent one with ErrNotFound, an invalid digest with ErrInvalidDigest
	// before anything is looked up.
	Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
	// Exists reports whether d is present with its expected size.
	Exists(ctx context.Context, d ocispec.Descriptor) (bool, error)
	// Info describes the content stored under dg, found by digest alone:
	// its size and, where the store knows it, its media type. It is how a
	// caller that holds only a digest (a have-list, a registry client
	// asking for a blob) builds a descriptor. Absent content is ErrNotFound.
	Info(ctx context.Context, dg digest.Digest) (BlobInfo, error)
}

// Writable is a store content can be added to.
type Writable interface {
	ReadOnly
	// Push stores the content of d read from r. It verifies size and digest
	// itself, whatever r is, before the content becomes visible, and leaves
	// nothing behind on failure. A negative size or an invalid digest is
	// refused before r is read.
	Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error
}

// Store is the writable role under the name most code uses for it.
type Store = Writable

// Resolver finds the descriptor a name stands for: a full reference, a tag
// or a digest, in whatever naming the store keeps (index.json annotations,
// a registry's tags).
type Resolver interface {
	Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error)
}

// Tagger gives content that is already stored a name. The name is a tag or
// a full reference, as the store's naming allows.
type Tagger interface {
	Tag(ctx context.Context, d ocispec.Descriptor, ref string) error
}

// Lister enumerates what a store holds: the named images (for ls, push and
// export) and every blob (so verify can find blobs nothing references and
// gc can drop them), including blobs served from another path (the layers
// of a docker-save archive) or generated in memory (converted manifests).
type Lister interface {
	Names(ctx context.Context) ([]Image, error)
	Blobs(ctx context.Context) ([]BlobInfo, error)
}

// BlobInfo describes a stored blob as found, before it is verified.
type BlobInfo struct {
	Path string `json:"path"` // where it is stored, for messages
	Size int64  `json:"size"`
	// Digest is the digest its name claims; empty if the name is not a
	// valid digest (the Err field then says why).
	Digest digest.Digest `json:"digest,omitempty"`
	// MediaType is set where the store knows it (a registry's manifest,
	// an index.json entry); blobs on disk carry none.
	MediaType string `json:"mediaType,omitempty"`
	Err       error  `json:"-"`
}
