package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Store is a layout in a bucket under a prefix. It plays the roles of a
// layout directory: Writable (blobs and manifests by digest), Resolver and
// Lister (from index.json); Write adds images with their names.
type Store struct {
	core     *minio.Core
	bucket   string
	prefix   string // "" or a clean relative path, no trailing slash
	label    string // s3://BUCKET/PREFIX, for messages
	partSize int64

	pushed atomic.Int64 // objects Push created, for the write's report
}

// ParseURL splits s3://BUCKET[/PREFIX] and checks both parts: the bucket
// against S3's naming rules, the prefix for what would make keys escape
// or collide ("..", empty elements, a leading slash).
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://BUCKET/PREFIX URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return "", "", fmt.Errorf("%s: bucket %q: %v", u, bucket, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		for _, el := range strings.Split(prefix, "/") {
			if el == "" || el == "." || el == ".." {
				return "", "", fmt.Errorf("%s: prefix %q: empty, . and .. elements are not allowed (a key must name one place)", u, prefix)
			}
		}
	}
	return bucket, prefix, nil
}

// Open connects to the bucket of an s3://BUCKET/PREFIX URL. It asks the
// server nothing yet: a destination's bucket may be written before any
// object is there, and the first request reports a missing bucket or
// refused credentials with the URL in the message.
func Open(u string, cfg Config) (*Store, error) {
	bucket, prefix, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	core, err := cfg.client()
	if err != nil {
		return nil, err
	}
	ps := cfg.PartSize
	if ps <= 0 {
		ps = DefaultPartSize
	}
	if ps < MinPartSize {
		return nil, fmt.Errorf("S3 part size %d is under S3's minimum of %d bytes", ps, MinPartSize)
	}
	label := "s3://" + bucket
	if prefix != "" {
		label += "/" + prefix
	}
	return &Store{core: core, bucket: bucket, prefix: prefix, label: label, partSize: ps}, nil
}

// String is the store's URL.
func (s *Store) String() string { return s.label }

// Close implements the sources' io.Closer; there is nothing to release.
func (s *Store) Close() error { return nil }

func (s *Store) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// blobKey validates d before it becomes part of a key.
func (s *Store) blobKey(d digest.Digest) (string, error) {
	p, err := layout.BlobPath(d)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.label, err)
	}
	return s.key(p), nil
}

// where names an object for messages: its URL.
func (s *Store) where(key string) string { return "s3://" + s.bucket + "/" + key }

// notFound reports whether err is the server saying the key is absent.
func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// explain turns a server's refusal into what to do about it. It never
// repeats credentials: the messages name where they were read from.
func (s *Store) explain(key string, err error) error {
	er := minio.ToErrorResponse(err)
	switch er.Code {
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %s does not exist on the server (create it first): %w", s.label, s.bucket, layout.ErrNotFound)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AccessDenied", "Forbidden",
		"XAdminUserNotFound": // Versity's answer for an unknown access key
		return fmt.Errorf("%s: the server refused the request for %s (%s: %s): check the credentials "+
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the AWS_PROFILE profile in AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) "+
			"and that they may read and write this bucket", s.label, s.where(key), er.Code, strings.TrimSuffix(er.Message, "."))
	}
	if er.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%s: access to %s denied (HTTP 403): check the credentials and the bucket's policy", s.label, s.where(key))
	}
	return fmt.Errorf("%s: %w", s.where(key), err)
}

// stat is HEAD of a key: its size, or ErrNotFound.
func (s *Store) stat(ctx context.Context, key string) (minio.ObjectInfo, error) {
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return info, fmt.Errorf("%s: %s is missing: %w", s.label, s.where(key), layout.ErrNotFound)
		}
		return info, s.explain(key, err)
	}
	return info, nil
}

// Exists implements layout.ReadOnly: present with the expected size. A
// wrong size is absent, so a copy replaces the object.
func (s *Store) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	key, err := s.blobKey(d.Digest)
	if err != nil {
		return false, err
	}
	info, err := s.stat(ctx, key)
	if errors.Is(err, layout.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return info.Size == d.Size, nil
}

// Info implements layout.ReadOnly. Objects carry no media type.
func (s *Store) Info(ctx context.Context, dg digest.Digest) (layout.BlobInfo, error) {
	key, err := s.blobKey(dg)
	if err != nil {
		return layout.BlobInfo{}, err
	}
	info, err := s.stat(ctx, key)
	if err != nil {
		return layout.BlobInfo{}, err
	}
	return layout.BlobInfo{Path: s.where(key), Size: info.Size, Digest: dg}, nil
}

// Fetch implements layout.ReadOnly. The size the server gives is checked
// before a byte is read; the content is checked by the caller's
// VerifyReader, as for every store.
func (s *Store) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	key, err := s.blobKey(d.Digest)
	if err != nil {
		return nil, err
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("%s: %s: negative size %d: %w", s.label, d.Digest, d.Size, layout.ErrInvalid)
	}
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: blob %s (%s) is missing: %w", s.label, d.Digest, s.where(key), layout.ErrNotFound)
		}
		return nil, s.explain(key, err)
	}
	if info.Size != d.Size {
		body.Close()
		return nil, fmt.Errorf("%s: blob %s (%s) is %d bytes, its descriptor says %d: %w", s.label, d.Digest, s.where(key), info.Size, d.Size, layout.ErrSizeMismatch)
	}
	return body, nil
}

// readSmall reads a document (index.json, oci-layout) whole, refusing one
// over limit by the size the server gives and by what it sends, so a
// hostile bucket cannot make ferry hold more. It returns the ETag that
// a conditional write of the key must match.
func (s *Store) readSmall(ctx context.Context, name string, limit int64) ([]byte, string, error) {
	key := s.key(name)
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, "", fmt.Errorf("%s: %s is missing: %w", s.label, s.where(key), layout.ErrNotFound)
		}
		return nil, "", s.explain(key, err)
	}
	defer body.Close()
	if info.Size > limit {
		return nil, "", fmt.Errorf("%s: %s is %d bytes, over the %d ferry reads: %w", s.label, s.where(key), info.Size, limit, layout.ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, "", s.explain(key, err)
	}
	if int64(len(b)) > limit {
		return nil, "", fmt.Errorf("%s: %s is over the %d bytes ferry reads: %w", s.label, s.where(key), limit, layout.ErrTooLarge)
	}
	return b, info.ETag, nil
}

// Blobs implements layout.Lister: every object under PREFIX/blobs/, by
// the digest its key claims (verify checks the claim). Listing needs the
// s3:ListBucket right, which reading a public layout does not.
func (s *Store) Blobs(ctx context.Context) ([]layout.BlobInfo, error) {
	root := s.key("blobs") + "/"
	var out []layout.BlobInfo
	for obj := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
		if obj.Err != nil {
			return nil, s.explain(root, obj.Err)
		}
		rel := strings.TrimPrefix(obj.Key, s.key(""))
		rel = strings.TrimPrefix(rel, "/")
		bi := layout.BlobInfo{Path: s.where(obj.Key), Size: obj.Size}
		d, ok, err := layout.DigestFromPath(path.Clean(rel))
		switch {
		case !ok:
			bi.Err = fmt.Errorf("%s is not a blob key (blobs/<algorithm>/<hex>): %w", obj.Key, layout.ErrInvalid)
		case err != nil:
			bi.Err = err
		default:
			bi.Digest = d
		}
		out = append(out, bi)
	}
	return out, nil
}
