package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// FetchRange implements layout.RangeSource: bytes [off, end) of a blob,
// resumed with Range after a dropped connection like a whole download.
// A registry that ignores Range is reported (whole), its answer read
// from off on.
// A registry that redirects blob GETs (to a CDN) is asked each range
// anew, so every range goes to a redirect target that is current and
// signed for it, and no credential follows it there.
func (r *Repository) FetchRange(ctx context.Context, d ocispec.Descriptor, off, end int64) (io.ReadCloser, bool, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return nil, false, err
	}
	if off < 0 || end > d.Size || off >= end {
		return nil, false, fmt.Errorf("%s/%s: blob %s: bytes %d to %d are not within its %d", r.Host, r.Name, d.Digest, off, end, d.Size)
	}
	u := r.url("blobs", d.Digest.String())
	br := &blobReader{c: r.c, get: func() request { return r.req(http.MethodGet, u) }, label: r.Host + "/" + r.Name, who: "registry",
		ctx: ctx, d: d, off: off, end: end, askRange: true}
	if err := br.open(); err != nil {
		return nil, false, err
	}
	return br, br.whole || br.ignored, nil
}

// errWholeForPart is a part of a blob answered with all of it.
var errWholeForPart = errors.New("the registry ignores Range there")

// FetchPart implements layout.PartSource: bytes [off, end) as FetchRange
// fetches them, but a source that answers with the whole blob is an
// error at once, its body closed unread.
func (r *Repository) FetchPart(ctx context.Context, d ocispec.Descriptor, off, end int64) (io.ReadCloser, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return nil, err
	}
	if off <= 0 || end > d.Size || off >= end {
		return nil, fmt.Errorf("%s/%s: blob %s: bytes %d to %d are not a part of its %d", r.Host, r.Name, d.Digest, off, end, d.Size)
	}
	u := r.url("blobs", d.Digest.String())
	br := &blobReader{c: r.c, get: func() request { return r.req(http.MethodGet, u) }, label: r.Host + "/" + r.Name, who: "registry",
		ctx: ctx, d: d, off: off, end: end, askRange: true, part: true}
	if err := br.open(); err != nil {
		return nil, err
	}
	return br, nil
}

// FetchPart implements layout.PartSource from the repository the digest
// was resolved in.
func (r *Sources) FetchPart(ctx context.Context, d ocispec.Descriptor, off, end int64) (io.ReadCloser, error) {
	repo, doc := r.route(d.Digest)
	if doc != nil || repo == nil {
		return nil, fmt.Errorf("blob %s: no registry to fetch a part of it from", d.Digest)
	}
	return repo.FetchPart(ctx, d, off, end)
}

// FetchRange implements layout.RangeSource from the repository the digest
// was resolved in; a document the walk holds comes whole, from memory.
func (r *Sources) FetchRange(ctx context.Context, d ocispec.Descriptor, off, end int64) (io.ReadCloser, bool, error) {
	repo, doc := r.route(d.Digest)
	if doc != nil || repo == nil {
		rc, err := r.Fetch(ctx, d)
		if err == nil && off > 0 { // whole, from off on, as a source without Range
			if _, err = io.CopyN(io.Discard, rc, off); err != nil {
				rc.Close()
				return nil, false, err
			}
		}
		return rc, true, err
	}
	return repo.FetchRange(ctx, d, off, end)
}

// checkRange holds a 206 to the range asked, bytes at to b.end-1: bytes
// written at the offsets of another range would still fail the digest,
// but only after the whole blob came, and without saying why.
func (b *blobReader) checkRange(resp *http.Response, at int64) error {
	cr := resp.Header.Get("Content-Range")
	first, last, total, ok := parseContentRange(cr)
	if !ok || first != at || last != b.end-1 || (total >= 0 && total != b.d.Size) ||
		(resp.ContentLength >= 0 && resp.ContentLength != b.end-at) {
		return fmt.Errorf("%s: blob %s: asked for bytes %d-%d of %d, %s answered Content-Range %q (%d bytes): %w",
			b.label, b.d.Digest, at, b.end-1, b.d.Size, b.who, cr, resp.ContentLength, layout.ErrSizeMismatch)
	}
	return nil
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL"; total is -1 for "*".
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, z, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if first, err = strconv.ParseInt(a, 10, 64); err != nil || first < 0 {
		return 0, 0, 0, false
	}
	if last, err = strconv.ParseInt(z, 10, 64); err != nil || last < first {
		return 0, 0, 0, false
	}
	total = -1
	if size != "*" {
		if total, err = strconv.ParseInt(size, 10, 64); err != nil || total <= last {
			return 0, 0, 0, false
		}
	}
	return first, last, total, true
}

// limitedBody stops a whole-blob answer at the end of the range wanted.
type limitedBody struct {
	io.Reader
	io.Closer
}
