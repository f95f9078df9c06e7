package layout

import (
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// VerifyReader is the one place ferry checks content against a descriptor.
// It hashes while the caller streams, refuses to read past the expected
// size, and reports a short read, trailing data or a digest mismatch as an
// error from Read at the moment the stream ends, so a consumer that copies
// to EOF cannot mistake bad content for good.
type VerifyReader struct {
	r        io.Reader
	want     ocispec.Descriptor
	h        hash.Hash
	n        int64
	err      error
	verified bool
}

// NewVerifyReader wraps r so that it yields exactly the content of d. An
// already verifying reader for the same descriptor is returned unchanged,
// so layers of code can wrap defensively without hashing twice.
func NewVerifyReader(r io.Reader, d ocispec.Descriptor) (*VerifyReader, error) {
	if vr, ok := r.(*VerifyReader); ok && vr.want.Digest == d.Digest && vr.want.Size == d.Size {
		return vr, nil
	}
	if err := ValidateDigest(d.Digest); err != nil {
		return nil, err
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("%s: negative size %d: %w", d.Digest, d.Size, ErrInvalid)
	}
	return &VerifyReader{r: r, want: d, h: d.Digest.Algorithm().Hash()}, nil
}

// Read implements io.Reader. At the end of the content it returns io.EOF
// only if size and digest match.
func (v *VerifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	rem := v.want.Size - v.n
	if rem == 0 {
		v.err = v.finish()
		return 0, v.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.n < v.want.Size {
			v.err = fmt.Errorf("%s: %w: content ended after %d of %d bytes", v.want.Digest, ErrSizeMismatch, v.n, v.want.Size)
			return n, v.err
		}
		err = nil // the next Read runs finish, which checks for trailing data
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// finish runs once the expected size has been read: any further byte is
// trailing data, and the digest must match.
func (v *VerifyReader) finish() error {
	var one [1]byte
	for {
		n, err := v.r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%s: %w: content is longer than the %d bytes its descriptor says", v.want.Digest, ErrSizeMismatch, v.want.Size)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	got := digest.NewDigestFromBytes(v.want.Digest.Algorithm(), v.h.Sum(nil))
	if got != v.want.Digest {
		return &MismatchError{Want: v.want.Digest, Got: got}
	}
	v.verified = true
	return io.EOF
}

// SoFar is the digest of the bytes read so far and their count, the state
// of the running hash left as it is. A reader of a blob's first n bytes
// gets their digest without hashing them a second time: the first chunk
// of a blob split across volumes is such a prefix.
func (v *VerifyReader) SoFar() (digest.Digest, int64) {
	return digest.NewDigestFromBytes(v.want.Digest.Algorithm(), v.h.Sum(nil)), v.n
}

// PrefixHashed is a blob's file that checks a prefix of itself against a
// digest of its own: the first chunk of a blob split across volumes,
// checked so that a bad copy names its volume. Told the verifier that
// reads it from its first byte, it takes that digest from the verifier's
// running hash (SoFar) instead of hashing the bytes a second time. The
// verifier must read the file on its own goroutine (directly, or through
// readers that pass each read straight on), as layout.Copy does: the file
// asks for SoFar from within its Read.
type PrefixHashed interface {
	HashedBy(*VerifyReader)
}

// Verified reports whether the whole content was read and matched.
func (v *VerifyReader) Verified() bool { return v.verified }

// Drain reads the rest of the content and returns nil only if it verified.
// It is how a caller that does not need the bytes checks them.
func (v *VerifyReader) Drain() error {
	_, err := CopyBuffer(io.Discard, v)
	if err == nil && !v.verified {
		err = errors.New("internal: verify reader drained without verification")
	}
	return err
}

// MismatchError carries both digests so messages can name them.
type MismatchError struct {
	Want, Got digest.Digest
}

// Error names both digests, expected first.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, content is %s", e.Want, e.Got)
}

// Unwrap lets errors.Is(err, ErrDigestMismatch) match.
func (e *MismatchError) Unwrap() error { return ErrDigestMismatch }
