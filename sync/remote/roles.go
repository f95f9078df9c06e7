package remote

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

var (
	_ layout.Writable = (*Repository)(nil)
	_ layout.Resolver = (*Repository)(nil)
	_ layout.Tagger   = (*Repository)(nil)
	_ layout.ReadOnly = readOnlyRepository{}
)

// Info implements layout.ReadOnly with HEAD requests, which registries do
// not count as pulls: the blob endpoint first, since most digests a caller
// holds are layers, then the manifest endpoint, which also tells the media
// type. A registry that knows neither answers ErrNotFound.
func (r *Repository) Info(ctx context.Context, d digest.Digest) (layout.BlobInfo, error) {
	if err := layout.ValidateDigest(d); err != nil {
		return layout.BlobInfo{}, err
	}
	for _, kind := range []string{"blobs", "manifests"} {
		q := r.req(http.MethodHead, r.url(kind, d.String()))
		if kind == "manifests" {
			q.header.Set("Accept", manifestAccept)
		}
		resp, err := r.c.do(ctx, q)
		if err != nil {
			return layout.BlobInfo{}, err
		}
		drain(resp)
		switch resp.StatusCode {
		case http.StatusOK:
			if resp.ContentLength < 0 {
				return layout.BlobInfo{}, fmt.Errorf("%s/%s: %s %s: the registry sent no Content-Length: %w", r.Host, r.Name, kind, d, layout.ErrInvalid)
			}
			info := layout.BlobInfo{Digest: d, Size: resp.ContentLength, Path: r.url(kind, d.String())}
			if kind == "manifests" {
				info.MediaType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
			}
			return info, nil
		case http.StatusNotFound:
			continue
		default:
			return layout.BlobInfo{}, fmt.Errorf("%s/%s: %s: %w", r.Host, r.Name, d, newRegistryError(resp))
		}
	}
	return layout.BlobInfo{}, fmt.Errorf("%s/%s: %s: %w", r.Host, r.Name, d, layout.ErrNotFound)
}

// Tag implements layout.Tagger: the manifest is fetched by digest
// (verified) and put back under the tag, byte for byte, since the
// distribution API tags by upload. ref is a bare tag or a reference in
// this repository.
func (r *Repository) Tag(ctx context.Context, d ocispec.Descriptor, ref string) error {
	tag, err := r.within(ref)
	if err != nil {
		return err
	}
	if layout.ValidateDigest(digest.Digest(tag)) == nil {
		return fmt.Errorf("%s/%s: cannot tag %s as %q: a digest is not a tag: %w", r.Host, r.Name, d.Digest, ref, layout.ErrInvalid)
	}
	if !layout.IsIndex(d.MediaType) && !layout.IsManifest(d.MediaType) {
		return fmt.Errorf("%s/%s: cannot tag %s: %s is not a manifest: %w", r.Host, r.Name, d.Digest, d.MediaType, layout.ErrInvalid)
	}
	rc, err := r.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	raw, err := readVerified(rc, d)
	if err != nil {
		return err
	}
	return r.TagManifest(ctx, d, raw, tag)
}

// ReadOnly is the repository as a read-only store: what a pull or a copy
// source is given, so nothing downstream can write to it by mistake.
func (r *Repository) ReadOnly() layout.ReadOnly { return readOnlyRepository{r} }

type readOnlyRepository struct{ r *Repository }

func (v readOnlyRepository) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	return v.r.Fetch(ctx, d)
}

func (v readOnlyRepository) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	return v.r.Exists(ctx, d)
}

func (v readOnlyRepository) Info(ctx context.Context, d digest.Digest) (layout.BlobInfo, error) {
	return v.r.Info(ctx, d)
}

// within turns ref into what the API takes after /manifests/: a bare tag
// or digest is kept, a full reference must name this repository and gives
// its digest, else its tag.
func (r *Repository) within(ref string) (string, error) {
	if !strings.ContainsAny(ref, "/@") {
		return ref, nil
	}
	if d := digest.Digest(ref); layout.ValidateDigest(d) == nil {
		return ref, nil
	}
	p, err := layout.ParseRef(ref)
	if err != nil {
		return "", err
	}
	host, name := splitRepo(p.Repo)
	if host != r.Host || name != r.Name {
		return "", fmt.Errorf("%s/%s: %q names another repository: %w", r.Host, r.Name, ref, layout.ErrNotFound)
	}
	if p.Digest != "" {
		return p.Digest.String(), nil
	}
	if p.Tag == "" {
		return "latest", nil
	}
	return p.Tag, nil
}
