package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/minio/minio-go/v7"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// images reads index.json with the ETag a conditional write must match;
// an absent one is an empty layout with etag "".
func (s *Store) images(ctx context.Context) ([]layout.Image, string, error) {
	b, etag, err := s.readSmall(ctx, ocispec.ImageIndexFile, layout.MaxIndexSize)
	if errors.Is(err, layout.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	idx, err := layout.ParseIndexJSON(b, s.label)
	if err != nil {
		return nil, "", err
	}
	out := make([]layout.Image, 0, len(idx.Manifests))
	for _, d := range idx.Manifests {
		out = append(out, layout.InterpretEntry(d))
	}
	return out, etag, nil
}

// Names implements layout.Lister: the entries of index.json. A prefix
// with no layout is an error naming it, not an empty list, so a typo in
// a source URL is not mistaken for an empty bucket.
func (s *Store) Names(ctx context.Context) ([]layout.Image, error) {
	b, _, err := s.readSmall(ctx, ocispec.ImageLayoutFile, 1<<16)
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			return nil, fmt.Errorf("%s: not an OCI layout (no %s under the prefix): %w", s.label, ocispec.ImageLayoutFile, layout.ErrNotFound)
		}
		return nil, err
	}
	var v struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Version == "" {
		return nil, fmt.Errorf("%s: %s has no imageLayoutVersion: %w", s.label, ocispec.ImageLayoutFile, layout.ErrInvalid)
	}
	ims, etag, err := s.images(ctx)
	if err == nil && etag == "" {
		return nil, fmt.Errorf("%s: %s is missing: %w", s.label, ocispec.ImageIndexFile, layout.ErrInvalid)
	}
	return ims, err
}

// Resolve implements layout.Resolver with layout.Match's rules.
func (s *Store) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	ims, err := s.Names(ctx)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m, err := layout.Match(ims, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", s.label, err)
	}
	return m[0].Desc, nil
}

// indexAttempts bounds the read-merge-write rounds against writers that
// keep winning the race; each round is a GET and a PUT of a small file,
// after a random pause that grows each round so racing writers spread out.
const indexAttempts = 12

func backoff(ctx context.Context, try int) error {
	d := time.Duration(rand.Int64N(int64(20*time.Millisecond) << min(try, 6)))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addImages merges add into index.json, keeping every other entry, with
// a write conditional on the ETag read (If-Match, or If-None-Match: * for
// a first index), so of two writers merging at once one is refused and
// merges again over what the other wrote: both sets of names survive. A
// server that ignores the conditions (older S3-compatible ones) makes it
// last writer wins, which the read-back after the write detects for all
// but a writer landing between that PUT and its read; every blob both
// wrote stays, so running the losing copy again restores its names.
func (s *Store) addImages(ctx context.Context, add []layout.Image) error {
	key := s.key(ocispec.ImageIndexFile)
	for try := 0; try < indexAttempts; try++ {
		if try > 0 {
			if err := backoff(ctx, try); err != nil {
				return err
			}
		}
		cur, etag, err := s.images(ctx)
		if err != nil {
			return err
		}
		b, err := layout.EncodeIndex(layout.MergeImages(cur, add), nil, s.label)
		if err != nil {
			return err
		}
		// A re-run that adds nothing new writes nothing: the bucket is
		// left exactly as it was (and a reader's cached copy stays valid).
		if was, err := layout.EncodeIndex(cur, nil, s.label); etag != "" && err == nil && bytes.Equal(was, b) {
			return nil
		}
		opts := minio.PutObjectOptions{ContentType: ocispec.MediaTypeImageIndex}
		if etag == "" {
			opts.SetMatchETagExcept("*")
		} else {
			opts.SetMatchETag(etag)
		}
		err = s.putSmall(ctx, key, b, opts)
		switch code := minio.ToErrorResponse(err).Code; {
		case code == "PreconditionFailed" || code == "ConditionalRequestConflict":
			continue // another writer came first: merge over its index
		case err != nil:
			return s.explain(key, err)
		}
		after, _, err := s.images(ctx)
		if err != nil {
			return err
		}
		if contains(after, add) {
			return nil
		}
	}
	return fmt.Errorf("%s: index.json kept changing under %d attempts to add %d name(s); the blobs are stored, run the copy again", s.label, indexAttempts, len(add))
}

// contains reports whether every entry of add is in ims as added.
func contains(ims, add []layout.Image) bool {
	have := map[string]bool{}
	for _, im := range ims {
		have[im.Name()+"@"+im.Desc.Digest.String()] = true
	}
	for _, im := range add {
		if !have[im.Name()+"@"+im.Desc.Digest.String()] {
			return false
		}
	}
	return true
}

// putSmall writes a document with its sha256 checked by the server, so a
// damaged upload never replaces a good index.json.
func (s *Store) putSmall(ctx context.Context, key string, b []byte, opts minio.PutObjectOptions) error {
	sum := sha256.Sum256(b)
	opts.DisableContentSha256 = true
	if opts.UserMetadata == nil {
		opts.UserMetadata = map[string]string{}
	}
	opts.UserMetadata["x-amz-checksum-sha256"] = base64.StdEncoding.EncodeToString(sum[:])
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), "", hex.EncodeToString(sum[:]), opts)
	return err
}

// ensureLayout writes oci-layout unless it is there, before index.json:
// a reader that finds index.json finds a complete layout.
func (s *Store) ensureLayout(ctx context.Context) error {
	key := s.key(ocispec.ImageLayoutFile)
	if _, err := s.stat(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, layout.ErrNotFound) {
		return err
	}
	if err := s.putSmall(ctx, key, []byte(layoutFile), minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return s.explain(key, err)
	}
	return nil
}
