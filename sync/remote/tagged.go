package remote

import (
	"context"
	"net/http"

	"github.com/opencontainers/go-digest"
)

// Tagged reports whether tag already names the manifest dg, by a HEAD
// (no body). A re-run of an interrupted push then leaves a tag that is
// already right alone instead of sending its manifest again. Any doubt
// (no digest header, an error) answers false: putting the tag is always
// correct, only not always needed.
func (r *Repository) Tagged(ctx context.Context, tag string, dg digest.Digest) bool {
	q := r.req(http.MethodHead, r.url("manifests", tag))
	q.header.Set("Accept", manifestAccept)
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return false
	}
	drain(resp)
	return resp.StatusCode == http.StatusOK && digest.Digest(resp.Header.Get("Docker-Content-Digest")) == dg
}
