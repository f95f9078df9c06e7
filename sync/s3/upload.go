package s3

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Push implements layout.Writable: the content of d goes under its
// digest's key, streamed. Whatever r is, the object can only ever hold
// d's bytes. A sha256 blob up to the part size is one PUT that carries
// its digest as the signed payload hash and as x-amz-checksum-sha256,
// so the server itself refuses other bytes before the object exists
// (checking after the last byte arrived would be too late: the server may
// have stored it by then). A larger blob, or one of another algorithm,
// goes as a multipart upload that is completed only after the verifier
// has read the last byte and the digest matched, and aborted otherwise.
func (s *Store) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	key, err := s.blobKey(d.Digest)
	if err != nil {
		return err
	}
	vr, err := layout.NewVerifyReader(r, d)
	if err != nil {
		return fmt.Errorf("%s: %w", s.label, err)
	}
	if d.Digest.Algorithm() == digest.SHA256 && d.Size <= s.partSize {
		err = s.putWhole(ctx, key, d, vr)
	} else {
		err = s.putParts(ctx, key, d, vr)
	}
	if err != nil {
		return err
	}
	s.pushed.Add(1)
	return nil
}

// putWhole is one PUT checked by the server against d's sha256.
func (s *Store) putWhole(ctx context.Context, key string, d ocispec.Descriptor, r io.Reader) error {
	raw, err := hex.DecodeString(d.Digest.Encoded())
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.label, d.Digest, layout.ErrInvalidDigest)
	}
	// DisableContentSha256 makes minio-go send the hash given instead of
	// signing chunks as they stream; the checksum header also stops it
	// adding a CRC trailer, which a fixed payload hash cannot go with.
	opts := minio.PutObjectOptions{DisableContentSha256: true, ContentType: "application/octet-stream",
		UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(raw)}}
	if _, err := s.core.PutObject(ctx, s.bucket, key, &holdLast{r: r}, d.Size, "", d.Digest.Encoded(), opts); err != nil {
		return s.putError(key, d, err)
	}
	return nil
}

// partPlan is the size of every part but the last: the configured size,
// or more for a blob that would otherwise need over S3's 10000 parts.
func (s *Store) partPlan(size int64) int64 {
	ps := s.partSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = need
	}
	return ps
}

// putParts streams vr in parts and completes the upload only once vr has
// reached its end with the digest matching.
func (s *Store) putParts(ctx context.Context, key string, d ocispec.Descriptor, vr *layout.VerifyReader) (err error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return s.explain(key, err)
	}
	defer func() {
		if err != nil {
			// Not the copy's context, which may be what failed: the
			// parts must not linger (and be billed) after a cancel.
			if aerr := s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id); aerr != nil {
				err = fmt.Errorf("%w (and aborting its upload %s failed: %v; the bucket's lifecycle rule for incomplete uploads removes it)", err, id, aerr)
			}
		}
	}()
	ps := s.partPlan(d.Size)
	var parts []minio.CompletePart
	for n, off := 1, int64(0); off < d.Size || n == 1; n++ {
		size := min(ps, d.Size-off)
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, id, n, io.LimitReader(vr, size), size, minio.PutObjectPartOptions{})
		if err != nil {
			return s.putError(key, d, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		off += size
	}
	if err := vr.Drain(); err != nil {
		return fmt.Errorf("%s: blob %s (%s) not stored: %w", s.label, d.Digest, s.where(key), err)
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, minio.PutObjectOptions{}); err != nil {
		return s.explain(key, err)
	}
	return nil
}

// putError keeps the verifier's own error (the source's bytes were wrong)
// apart from the server's refusal.
func (s *Store) putError(key string, d ocispec.Descriptor, err error) error {
	var me *layout.MismatchError
	if errors.As(err, &me) || errors.Is(err, layout.ErrSizeMismatch) || errors.Is(err, layout.ErrDigestMismatch) {
		return fmt.Errorf("%s: blob %s (%s) not stored: %w", s.label, d.Digest, s.where(key), err)
	}
	switch minio.ToErrorResponse(err).Code {
	case "XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest":
		return fmt.Errorf("%s: blob %s (%s) not stored: the server found the bytes sent do not hash to it: %w", s.label, d.Digest, s.where(key), layout.ErrDigestMismatch)
	}
	return s.explain(key, err)
}

// holdLast passes r on but keeps back its last byte until r has ended
// cleanly, which for a VerifyReader means size and digest matched. A
// server that takes a body cut short by a dropped connection as complete
// (some do, whatever Content-Length said) then never holds all of a
// blob's bytes when its source failed, so the digest it checks cannot
// match: a source that ends early, whose content is the blob's but
// shorter than its descriptor said, leaves nothing behind.
type holdLast struct {
	r    io.Reader
	last byte
	has  bool
	err  error
}

func (h *holdLast) Read(p []byte) (int, error) {
	for len(p) > 0 {
		if h.err != nil {
			if h.err == io.EOF && h.has {
				p[0], h.has = h.last, false
				return 1, nil
			}
			return 0, h.err
		}
		n, err := h.r.Read(p)
		h.err = err
		if n == 0 {
			continue
		}
		last := p[n-1]
		if !h.has {
			h.last, h.has = last, true
			if n == 1 {
				continue
			}
			return n - 1, nil
		}
		copy(p[1:n], p[:n-1])
		p[0], h.last = h.last, last
		return n, nil
	}
	return 0, nil
}
