package layout

import "errors"

// Sentinel errors. Callers test them with errors.Is; messages built around
// them always name the digest, the file and, where known, the image, so the
// sentinel only carries the class of failure.
var (
	// ErrNotFound means the store does not hold the content or name.
	ErrNotFound = errors.New("not found")
	// ErrDigestMismatch means content hashed to another digest than its descriptor.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch means content is shorter or longer than its descriptor says.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrUnsupportedDigest means the digest is well formed but uses an algorithm
	// ferry cannot verify; ferry refuses what it cannot check.
	ErrUnsupportedDigest = errors.New("unsupported digest algorithm")
	// ErrInvalidDigest means the digest does not follow the OCI grammar. It is
	// raised before any path is built from the digest.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrTooLarge means a document exceeds the size ferry accepts for its kind.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid means a document or layout breaks the OCI rules.
	ErrInvalid = errors.New("invalid content")
	// ErrUnsafe means the input tried something hostile: a link, a device,
	// a path outside its root or a duplicate entry with other content.
	ErrUnsafe = errors.New("unsafe input")
	// ErrAmbiguous means a name matched several different images.
	ErrAmbiguous = errors.New("ambiguous name")
)

// ErrReadOnly means a write was asked of content that can only be read. A
// read-only store has no Push method at all; the sentinel is for the places
// where the kind of a store is only known at run time (a registry that
// refuses the push, a target that turns out to be an archive being read).
var ErrReadOnly = errors.New("read-only")
