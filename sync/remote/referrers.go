package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// FallbackTag is the distribution spec's tag for the referrers of d on a
// registry without the referrers API: sha256-<hex>, truncated and cleaned.
func FallbackTag(d digest.Digest) string {
	alg, enc := d.Algorithm().String(), d.Encoded()
	if len(alg) > 32 {
		alg = alg[:32]
	}
	if len(enc) > 64 {
		enc = enc[:64]
	}
	// A tag may hold only [a-zA-Z0-9_.-]; anything else becomes "-".
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, alg+"-"+enc)
}

// Referrers lists the manifests whose subject is d: from the referrers
// API, or, where the registry has none, from the fallback tag's index.
func (r *Repository) Referrers(ctx context.Context, d digest.Digest) ([]ocispec.Descriptor, error) {
	q := r.req(http.MethodGet, r.url("referrers", d.String()))
	q.header.Set("Accept", ocispec.MediaTypeImageIndex)
	resp, err := r.c.do(ctx, q)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusOK && mt == ocispec.MediaTypeImageIndex {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, layout.MaxManifestSize+1))
		if err != nil {
			return nil, err
		}
		return parseReferrers(b)
	}
	rerr := newRegistryError(resp)
	resp.Body.Close()
	var re *RegistryError
	if errors.As(rerr, &re) && re.HasCode("NAME_UNKNOWN") {
		return nil, fmt.Errorf("%s/%s: %w", r.Host, r.Name, rerr)
	}
	// No API (404 or a non-index answer): the tag schema.
	b, _, err := r.getManifest(ctx, FallbackTag(d), layout.MaxManifestSize)
	if errors.Is(err, layout.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseReferrers(b)
}

func parseReferrers(b []byte) ([]ocispec.Descriptor, error) {
	if int64(len(b)) > layout.MaxManifestSize {
		return nil, fmt.Errorf("referrers index: %w", layout.ErrTooLarge)
	}
	n, err := layout.DecodeNode(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}, b)
	if err != nil {
		return nil, err
	}
	return n.Index.Manifests, nil
}

// CosignTags lists the cosign signature, attestation and SBOM tags that
// exist for d, as descriptors of their manifests.
func (r *Repository) CosignTags(ctx context.Context, d digest.Digest) (map[string]ocispec.Descriptor, error) {
	out := map[string]ocispec.Descriptor{}
	for _, s := range [...]string{".sig", ".att", ".sbom"} { // cosign's tags for a digest
		tag := d.Algorithm().String() + "-" + d.Encoded() + s
		desc, err := r.Resolve(ctx, tag)
		if errors.Is(err, layout.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[tag] = desc
	}
	return out, nil
}

// linkReferrer keeps the fallback tag index of a subject up to date after
// pushing a referrer to a registry that did not acknowledge the subject
// (no OCI-Subject header), as the spec requires of clients.
func (r *Repository) linkReferrer(ctx context.Context, n *layout.Node) error {
	subject := n.Subject()
	entry := n.Desc
	entry.Annotations = nil
	entry.Platform = nil
	if n.Manifest != nil {
		entry.ArtifactType = n.Manifest.ArtifactType
		if entry.ArtifactType == "" {
			entry.ArtifactType = n.Manifest.Config.MediaType
		}
		entry.Annotations = n.Manifest.Annotations
	} else if n.Index != nil {
		entry.ArtifactType = n.Index.ArtifactType
		entry.Annotations = n.Index.Annotations
	}
	tag := FallbackTag(subject.Digest)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	b, _, err := r.getManifest(ctx, tag, layout.MaxManifestSize)
	switch {
	case errors.Is(err, layout.ErrNotFound):
	case err != nil:
		return err
	default:
		cur, err := parseReferrers(b)
		if err != nil {
			return fmt.Errorf("fallback tag %s does not hold an index: %w", tag, err)
		}
		for _, d := range cur {
			if d.Digest == entry.Digest {
				return nil
			}
		}
		idx.Manifests = cur
	}
	idx.Manifests = append(idx.Manifests, entry)
	raw, _ := json.Marshal(idx)
	_, err = r.putManifest(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))}, raw, tag)
	return err
}
