package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// Store is a layout on a web server as a read-only store: ReadOnly,
// Resolver and Lister, and verify's Check. Its images are read once, at
// Open: a server's index.json may change under a long copy, and one copy
// must name exactly what it fetched.
type Store struct {
	c      *remote.Client
	base   string // the layout's URL, ending in "/"
	images []layout.Image
	types  map[digest.Digest]string // the media types index.json gives its roots
}

// Open reads the layout at base (a URL as SplitURL returns it): its
// oci-layout marker and index.json, each size-capped and strictly decoded
// as a layout on disk is. Where neither is there but the host answers
// /v2/, the error says it is a registry, and how to name it.
func Open(ctx context.Context, c *remote.Client, base string) (*Store, error) {
	s := &Store{c: c, base: base, types: map[digest.Digest]string{}}
	b, err := s.small(ctx, ocispec.ImageLayoutFile, layout.MaxLayoutFileSize)
	if err != nil {
		return nil, s.notLayout(ctx, err)
	}
	if err := layout.ParseLayoutFile(b, base); err != nil {
		return nil, err
	}
	b, err = s.small(ctx, ocispec.ImageIndexFile, layout.MaxIndexSize)
	if err != nil {
		return nil, s.notLayout(ctx, err)
	}
	idx, err := layout.ParseIndexJSON(b, base)
	if err != nil {
		return nil, err
	}
	for _, d := range idx.Manifests {
		s.images = append(s.images, layout.InterpretEntry(d))
		s.types[d.Digest] = d.MediaType
	}
	return s, nil
}

// Label is the layout's URL, for messages.
func (s *Store) Label() string { return s.base }

// Images are the entries of index.json, each with the name it carries.
func (s *Store) Images() []layout.Image { return append([]layout.Image(nil), s.images...) }

// small fetches a control file whole, refusing one over limit before it
// is read (when the server announces its size) or as soon as it passes
// the limit (when it does not, or lies).
func (s *Store) small(ctx context.Context, name string, limit int64) ([]byte, error) {
	u := s.base + name
	resp, err := s.c.Get(ctx, http.MethodGet, u)
	if err != nil {
		var ve *tls.CertificateVerificationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w (--ca-file FILE trusts the CA that signed the server's certificate)", s.base, err)
		}
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		// The client has already answered a 401 once with what it holds:
		// a second refusal means those credentials are wrong.
		host := resp.Request.URL.Host
		return nil, fmt.Errorf("%s refused the credentials ferry holds for %s (the credentials file's entry for it, or --username): %w", s.base, host, remote.Failure(resp))
	default:
		return nil, fmt.Errorf("%s: %w", s.base, remote.Failure(resp))
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s: %s is %d bytes: %w (limit %d); nothing was read", s.base, name, resp.ContentLength, layout.ErrTooLarge, limit)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", s.base, name, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: %s is over %d bytes: %w", s.base, name, limit, layout.ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// notLayout explains a missing control file. A registry's host answers
// /v2/ (200, or 401 asking for credentials) where a file server has
// nothing; anything else is reported as it came.
func (s *Store) notLayout(ctx context.Context, err error) error {
	if !errors.Is(err, layout.ErrNotFound) {
		return err
	}
	root, perr := SplitRoot(s.base)
	if perr == nil {
		if resp, gerr := s.c.Get(ctx, http.MethodGet, root+"v2/"); gerr == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized || resp.Header.Get("Docker-Distribution-API-Version") != "" {
				return fmt.Errorf("%s is not an OCI layout, but its host answers /v2/ like a registry: name the image as docker://%s (no http:// or https://)", s.base, registryForm(s.base))
			}
		}
	}
	return fmt.Errorf("%s is not an OCI layout (publish a layout directory, such as `ferry pull --to DIR` writes, or an exported archive unpacked): %w", s.base, err)
}

// Fetch implements ReadOnly: a GET of blobs/<alg>/<hex>, resumed with
// Range after a dropped connection, unverified (callers verify).
func (s *Store) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	u, err := blobURL(s.base, d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.base, err)
	}
	return s.c.FetchURL(ctx, u, d, s.base)
}

// Exists implements ReadOnly with a HEAD: present with the expected size.
func (s *Store) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	bi, err := s.Info(ctx, d.Digest)
	if errors.Is(err, layout.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return bi.Size == d.Size, nil
}

// Info implements ReadOnly with a HEAD; the size is what the server says
// (its Content-Length), the media type is known for index.json's roots.
func (s *Store) Info(ctx context.Context, dg digest.Digest) (layout.BlobInfo, error) {
	u, err := blobURL(s.base, dg)
	if err != nil {
		return layout.BlobInfo{}, fmt.Errorf("%s: %w", s.base, err)
	}
	resp, err := s.c.Get(ctx, http.MethodHead, u)
	if err != nil {
		return layout.BlobInfo{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return layout.BlobInfo{}, fmt.Errorf("%s: blob %s: %w", s.base, dg, remote.Failure(resp))
	}
	resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || size < 0 {
		return layout.BlobInfo{}, fmt.Errorf("%s: blob %s: the server gave no size (Content-Length) for HEAD", s.base, dg)
	}
	return layout.BlobInfo{Digest: dg, Path: u, Size: size, MediaType: s.types[dg]}, nil
}

// Resolve implements Resolver by index.json's names, with layout's
// matching rules.
func (s *Store) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	m, err := layout.Match(s.images, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", s.base, err)
	}
	return m[0].Desc, nil
}

// Names implements Lister.
func (s *Store) Names(context.Context) ([]layout.Image, error) { return s.Images(), nil }

// Blobs implements Lister with what index.json reaches: a web server
// cannot be listed, so blobs nothing references are not seen (verify of
// the directory before it is published finds those). Missing and broken
// documents are left to the caller's own walk to report.
func (s *Store) Blobs(ctx context.Context) ([]layout.BlobInfo, error) {
	roots := make([]ocispec.Descriptor, 0, len(s.images))
	for _, im := range s.images {
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, s, roots, layout.WalkOptions{AllowMissing: true, KeepGoing: true})
	if err != nil {
		return nil, err
	}
	var out []layout.BlobInfo
	add := func(d ocispec.Descriptor) {
		u, _ := blobURL(s.base, d.Digest)
		out = append(out, layout.BlobInfo{Digest: d.Digest, Size: d.Size, MediaType: d.MediaType, Path: u})
	}
	for _, n := range g.Nodes {
		add(n.Desc)
	}
	for _, d := range g.Blobs {
		add(d)
	}
	return out, nil
}

// Check verifies one blob against its descriptor by reading it whole.
func (s *Store) Check(ctx context.Context, d ocispec.Descriptor) error {
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	vr, err := layout.NewVerifyReader(rc, d)
	if err == nil {
		err = vr.Drain()
	}
	if err != nil {
		u, _ := blobURL(s.base, d.Digest)
		return fmt.Errorf("%s: %w", u, err)
	}
	return nil
}
