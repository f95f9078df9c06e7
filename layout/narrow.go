package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerRefDigest is how buildkit ties an attestation manifest in an index
// to the platform image it describes.
const dockerRefDigest = "vnd.docker.reference.digest"

// NarrowIndex rewrites an index document keeping only the entries keep
// accepts, and attestations only for images kept. Everything else in the
// document (mediaType, annotations, subject, unknown fields) is kept as it
// was, and each kept entry is copied byte for byte. The result is a new
// document with a new digest: the price of pushing part of an index, which
// a registry would refuse whole when children are absent.
func NarrowIndex(raw []byte, keep func(ocispec.Descriptor) bool) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: index: %v", ErrInvalid, err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(doc["manifests"], &entries); err != nil {
		return nil, fmt.Errorf("%w: index manifests: %v", ErrInvalid, err)
	}
	descs := make([]ocispec.Descriptor, len(entries))
	kept := map[digest.Digest]bool{}
	for i, e := range entries {
		if err := json.Unmarshal(e, &descs[i]); err != nil {
			return nil, fmt.Errorf("%w: index entry %d: %v", ErrInvalid, i, err)
		}
		if descs[i].Annotations[dockerRefDigest] == "" && keep(descs[i]) {
			kept[descs[i].Digest] = true
		}
	}
	out := make([]json.RawMessage, 0, len(entries))
	for i, e := range entries {
		d := descs[i]
		if ref := d.Annotations[dockerRefDigest]; ref != "" {
			if !kept[digest.Digest(ref)] || !keep(d) {
				continue
			}
		} else if !kept[d.Digest] {
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no entry of the index is kept", ErrNotFound)
	}
	m, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	doc["manifests"] = m
	// encoding/json sorts map keys, so the same narrowing always gives
	// the same bytes and the same digest.
	return json.Marshal(doc)
}

// WithDoc is src plus one document held in memory: a narrowed index that
// exists nowhere else yet, so Walk and Copy can treat it like the rest.
type WithDoc struct {
	ReadOnly
	Desc ocispec.Descriptor
	Raw  []byte
}

// NewWithDoc describes raw with mediaType and serves it on top of src.
func NewWithDoc(src ReadOnly, mediaType string, raw []byte) *WithDoc {
	return &WithDoc{ReadOnly: src, Raw: raw, Desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}}
}

func (w *WithDoc) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if d.Digest == w.Desc.Digest {
		return io.NopCloser(bytes.NewReader(w.Raw)), nil
	}
	return w.ReadOnly.Fetch(ctx, d)
}

func (w *WithDoc) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if d.Digest == w.Desc.Digest {
		return true, nil
	}
	return w.ReadOnly.Exists(ctx, d)
}

// Info serves the held document's facts and passes everything else on.
func (w *WithDoc) Info(ctx context.Context, d digest.Digest) (BlobInfo, error) {
	if d == w.Desc.Digest {
		return BlobInfo{Digest: d, Size: w.Desc.Size, MediaType: w.Desc.MediaType, Path: "(generated) " + d.String()}, nil
	}
	return w.ReadOnly.Info(ctx, d)
}
