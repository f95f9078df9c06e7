package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// manifestAccept lists every manifest type ferry reads. Leaving one out
// makes registries answer 404 or, for Docker lists fetched by tag,
// silently serve one platform's manifest with another digest.
const manifestAccept = ocispec.MediaTypeImageIndex + ", " + ocispec.MediaTypeImageManifest + ", " +
	layout.MediaTypeDockerManifestList + ", " + layout.MediaTypeDockerManifest

// Repository is one repository of one registry, as a layout.Store.
type Repository struct {
	c    *Client
	Host string // the API host (docker.io means registry-1.docker.io)
	Name string // the repository path, e.g. library/busybox
	push bool   // request push scope

	// last is the manifest Resolve fetched, kept so the walk that follows
	// does not ask for it a second time.
	mu   sync.Mutex
	last map[digest.Digest][]byte
}

// Repository opens the repository a normalized reference names.
// forPush asks tokens for push as well as pull.
func (c *Client) Repository(ref layout.Ref, forPush bool) *Repository {
	host, name := splitRepo(ref.Repo)
	return &Repository{c: c, Host: host, Name: name, push: forPush}
}

// splitRepo separates a normalized repository into the API host and the
// path; docker.io's API lives on another host than its name.
func splitRepo(repo string) (host, name string) {
	host, name, _ = strings.Cut(repo, "/")
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	return host, name
}

func (r *Repository) url(kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", r.c.scheme(r.Host), r.Host, r.Name, kind, ref)
}

func (r *Repository) req(method, url string) request {
	action := "pull"
	if r.push {
		action = "pull,push"
	}
	return request{method: method, url: url, header: http.Header{}, host: r.Host, retryable: true,
		scopes: []string{"repository:" + r.Name + ":" + action}}
}

// Fetch implements layout.Store: manifests by digest, blobs with resume.
func (r *Repository) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return nil, err
	}
	if layout.IsIndex(d.MediaType) || layout.IsManifest(d.MediaType) {
		// Taken, not copied: the walk keeps its own copy, and a cache that
		// kept every manifest resolved (each cosign tag of each referrer)
		// would hold them all twice for the whole pull.
		r.mu.Lock()
		b, ok := r.last[d.Digest]
		delete(r.last, d.Digest)
		r.mu.Unlock()
		if ok {
			return io.NopCloser(bytes.NewReader(b)), nil // verified by the caller like any other read
		}
		b, _, err := r.getManifest(ctx, d.Digest.String(), d.Size)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return r.fetchBlob(ctx, d)
}

// Exists implements layout.Store with a HEAD, which registries do not
// count as a pull.
func (r *Repository) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return false, err
	}
	kind := "blobs"
	if layout.IsIndex(d.MediaType) || layout.IsManifest(d.MediaType) {
		kind = "manifests"
	}
	q := r.req(http.MethodHead, r.url(kind, d.Digest.String()))
	if kind == "manifests" {
		q.header.Set("Accept", manifestAccept)
	}
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return false, err
	}
	drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		if cl := resp.ContentLength; cl >= 0 && cl != d.Size {
			return false, nil
		}
		if kind == "blobs" {
			r.c.remember(r.Host, r.Name, d.Digest.String())
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, newRegistryError(resp)
}

// Push implements layout.Store: manifests by digest, blobs by upload. It
// verifies what it sends itself, whatever reader it is given, and refuses
// a descriptor it cannot verify before a byte reaches the registry: an
// upload session opened for an unparsable digest or an unknown size could
// only fail, or worse, be committed under a name the content does not
// have.
func (r *Repository) Push(ctx context.Context, d ocispec.Descriptor, rd io.Reader) error {
	// Refused before a request is made: a registry would otherwise learn
	// of, or half-receive, content ferry could never verify.
	if err := layout.ValidateDigest(d.Digest); err != nil {
		return fmt.Errorf("%s/%s: push: %w", r.Host, r.Name, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s/%s: push %s: size %d is not a size (a registry push needs the exact length): %w", r.Host, r.Name, d.Digest, d.Size, layout.ErrInvalid)
	}
	if layout.IsIndex(d.MediaType) || layout.IsManifest(d.MediaType) {
		b, err := readVerified(rd, d)
		if err != nil {
			return err
		}
		acked, err := r.putManifest(ctx, d, b, d.Digest.String())
		if err != nil {
			return err
		}
		if n, err := layout.DecodeNode(d, b); err == nil && n.Subject() != nil && !acked {
			return r.linkReferrer(ctx, n)
		}
		return nil
	}
	// A VerifyReader the caller made for d is reused, not hashed twice.
	vr, err := layout.NewVerifyReader(rd, d)
	if err != nil {
		return fmt.Errorf("%s/%s: push %s: %w", r.Host, r.Name, d.Digest, err)
	}
	return r.uploadBlob(ctx, d, vr)
}

// Resolve finds what a tag or digest names with one GET, keeping the bytes
// for the walk that follows: fewer requests than a HEAD and a GET.
func (r *Repository) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	ref, err := r.within(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	b, mt, err := r.getManifest(ctx, ref, layout.MaxManifestSize)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	r.mu.Lock()
	if r.last == nil {
		r.last = map[digest.Digest][]byte{}
	}
	r.last[d.Digest] = b
	r.mu.Unlock()
	return d, nil
}

// TagManifest points tag at the manifest d, sending raw, its exact bytes,
// which the caller already holds verified.
func (r *Repository) TagManifest(ctx context.Context, d ocispec.Descriptor, raw []byte, tag string) error {
	_, err := r.putManifest(ctx, d, raw, tag)
	return err
}

// getManifest fetches a manifest by tag or digest, capped, and checks its
// digest when the reference is one, and the header when it is present.
func (r *Repository) getManifest(ctx context.Context, ref string, limit int64) ([]byte, string, error) {
	q := r.req(http.MethodGet, r.url("manifests", ref))
	q.header.Set("Accept", manifestAccept)
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s/%s: manifest %s: %w", r.Host, r.Name, ref, newRegistryError(resp))
	}
	limit = min(limit, layout.MaxManifestSize)
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(b)) > limit {
		return nil, "", fmt.Errorf("%s/%s: manifest %s: %w (over %d bytes)", r.Host, r.Name, ref, layout.ErrTooLarge, limit)
	}
	got := digest.FromBytes(b)
	if d, err := digest.Parse(ref); err == nil && d != got {
		return nil, "", fmt.Errorf("%s/%s: manifest %s: %w", r.Host, r.Name, ref, &layout.MismatchError{Want: d, Got: got})
	}
	if h := digest.Digest(resp.Header.Get("Docker-Content-Digest")); h != "" && h != got {
		return nil, "", fmt.Errorf("%s/%s: manifest %s: Docker-Content-Digest says %s: %w", r.Host, r.Name, ref, h, &layout.MismatchError{Want: h, Got: got})
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var body struct {
		MediaType string `json:"mediaType"`
	}
	json.Unmarshal(b, &body)
	switch {
	case body.MediaType != "" && mt != "" && body.MediaType != mt && !(mt == "application/json" || mt == "text/plain"):
		return nil, "", fmt.Errorf("%s/%s: manifest %s: Content-Type %s but the document says %s: %w", r.Host, r.Name, ref, mt, body.MediaType, layout.ErrInvalid)
	case body.MediaType != "":
		mt = body.MediaType
	}
	return b, mt, nil
}

// putManifest sends raw exactly as stored, by digest or tag. It reports
// whether the registry acknowledged the manifest's subject (OCI-Subject),
// which tells whether it maintains referrers itself.
func (r *Repository) putManifest(ctx context.Context, d ocispec.Descriptor, raw []byte, ref string) (bool, error) {
	q := r.req(http.MethodPut, r.url("manifests", ref))
	q.header.Set("Content-Type", d.MediaType)
	q.body = func() (io.Reader, error) { return bytes.NewReader(raw), nil }
	q.length = int64(len(raw))
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return false, fmt.Errorf("%s/%s: push manifest %s as %s: %w", r.Host, r.Name, d.Digest, ref, newRegistryError(resp))
	}
	drain(resp)
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != d.Digest.String() {
		return false, fmt.Errorf("%s/%s: registry stored manifest %s as %s: %w", r.Host, r.Name, d.Digest, h, layout.ErrDigestMismatch)
	}
	return resp.Header.Get("OCI-Subject") != "", nil
}

// readVerified reads a manifest body, verified against d.
func readVerified(rd io.Reader, d ocispec.Descriptor) ([]byte, error) {
	if d.Size > layout.MaxManifestSize {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, layout.ErrTooLarge)
	}
	vr, err := layout.NewVerifyReader(rd, d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, vr); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
