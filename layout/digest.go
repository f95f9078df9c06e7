package layout

import (
	"errors"
	"fmt"
	"path"

	"github.com/opencontainers/go-digest"
)

// ValidateDigest checks d against the OCI grammar and requires an algorithm
// ferry can verify. It is the gate every digest passes before it is used to
// build a path or trusted as a name.
func ValidateDigest(d digest.Digest) error {
	err := d.Validate()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, digest.ErrDigestUnsupported):
		return fmt.Errorf("%q: %w (ferry verifies every blob and cannot check this algorithm; sha256 and sha512 are supported)", string(d), ErrUnsupportedDigest)
	default:
		return fmt.Errorf("%q: %w: %v", string(d), ErrInvalidDigest, err)
	}
}

// BlobPath is the slash-separated path of d inside a layout. It validates d
// first, so a hostile digest can never name a path outside blobs/.
func BlobPath(d digest.Digest) (string, error) {
	if err := ValidateDigest(d); err != nil {
		return "", err
	}
	return path.Join("blobs", d.Algorithm().String(), d.Encoded()), nil
}

// DigestFromPath is the inverse of BlobPath for names found on disk or in a
// tar. ok is false for paths outside blobs/<alg>/.
func DigestFromPath(p string) (d digest.Digest, ok bool, err error) {
	dir, enc := path.Split(p)
	alg := path.Base(path.Clean(dir))
	if path.Clean(path.Dir(path.Clean(dir))) != "blobs" || enc == "" {
		return "", false, nil
	}
	d = digest.Digest(alg + ":" + enc)
	return d, true, ValidateDigest(d)
}
