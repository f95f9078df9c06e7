package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Mount asks the registry to link blob d, which repository from on the
// same host holds, into this repository without a byte sent (the
// distribution spec's cross-repository mount). It reports whether the
// registry did (201). A registry that will not (from lacks the blob, the
// credentials do not reach it, mounting is off) answers 202 with an
// upload session instead; that session is cancelled, since nothing will
// be sent to it, and Mount reports false.
func (r *Repository) Mount(ctx context.Context, d ocispec.Descriptor, from string) (bool, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return false, err
	}
	resp, err := r.c.do(ctx, r.uploadPost(d, from))
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		drain(resp)
		r.c.remember(r.Host, r.Name, d.Digest.String())
		return true, nil
	case http.StatusAccepted:
		drain(resp)
		if loc, err := location(resp); err == nil {
			if resp, err := r.c.do(ctx, r.req(http.MethodDelete, loc)); err == nil {
				drain(resp)
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%s/%s: mount %s from %s: %w", r.Host, r.Name, d.Digest, from, failure(resp))
}

// uploadPost is the POST that opens an upload session for d or, with
// from (a repository on the same registry), asks to mount d from there,
// which needs pull access to from as well.
func (r *Repository) uploadPost(d ocispec.Descriptor, from string) request {
	q := r.req(http.MethodPost, r.url("blobs", "uploads/"))
	if from != "" {
		q.url += "?" + url.Values{"mount": {d.Digest.String()}, "from": {from}}.Encode()
		q.scopes = append(q.scopes, "repository:"+from+":pull")
	}
	q.length = 0
	q.body = func() (io.Reader, error) { return http.NoBody, nil }
	return q
}
