package remote

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// HeadTag finds what a tag points at with a HEAD, which moves no body and
// which registries do not count as a pull: describing a repository of many
// tags that share manifests then fetches each manifest once, by digest,
// where a GET per tag would fetch it once per tag. What the headers say is
// not trusted beyond naming the manifest: its bytes, fetched by digest,
// are verified against it. A registry whose answer lacks the digest or a
// manifest media type is asked with a GET instead (Resolve).
func (r *Repository) HeadTag(ctx context.Context, tag string) (ocispec.Descriptor, error) {
	q := r.req(http.MethodHead, r.url("manifests", tag))
	q.header.Set("Accept", manifestAccept)
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return ocispec.Descriptor{}, fmt.Errorf("%s/%s: manifest %s: %w", r.Host, r.Name, tag, newRegistryError(resp))
	}
	d := digest.Digest(resp.Header.Get("Docker-Content-Digest"))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	size := resp.ContentLength
	if layout.ValidateDigest(d) != nil || !(layout.IsIndex(mt) || layout.IsManifest(mt)) || size <= 0 || size > layout.MaxManifestSize {
		return r.Resolve(ctx, tag)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}
