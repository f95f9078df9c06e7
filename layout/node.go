package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Node is a decoded index or manifest together with the exact bytes it came
// from: ferry never re-serialises a manifest, so digests survive.
type Node struct {
	Desc     ocispec.Descriptor
	Raw      []byte
	Index    *ocispec.Index    // set when Desc is an index or manifest list
	Manifest *ocispec.Manifest // set when Desc is an image manifest
}

// Children are the descriptors a copy must carry with this node: the
// entries of an index, or the config and layers of a manifest. The subject
// of a referrer is a weak link and is not a child.
func (n *Node) Children() []ocispec.Descriptor {
	if n.Index != nil {
		return n.Index.Manifests
	}
	if n.Manifest != nil {
		out := make([]ocispec.Descriptor, 0, 1+len(n.Manifest.Layers))
		out = append(out, n.Manifest.Config)
		return append(out, n.Manifest.Layers...)
	}
	return nil
}

// Subject returns the manifest this node refers to, if it is a referrer.
func (n *Node) Subject() *ocispec.Descriptor {
	if n.Index != nil {
		return n.Index.Subject
	}
	if n.Manifest != nil {
		return n.Manifest.Subject
	}
	return nil
}

// shape holds just what is needed to tell an index from a manifest before
// trusting either reading (CVE-2021-41190).
type shape struct {
	SchemaVersion *int            `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        json.RawMessage `json:"config"`
	Layers        json.RawMessage `json:"layers"`
	Manifests     json.RawMessage `json:"manifests"`
	FSLayers      json.RawMessage `json:"fsLayers"`
}

// DecodeNode parses raw as the index or manifest d says it is. It refuses
// schema1, ambiguous documents, a body mediaType that contradicts the
// descriptor, invalid child descriptors and anything StrictJSON rejects.
func DecodeNode(d ocispec.Descriptor, raw []byte) (*Node, error) {
	if err := StrictJSON(raw); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %v", d.MediaType, d.Digest, ErrInvalid, err)
	}
	var sh shape
	if err := json.Unmarshal(raw, &sh); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %v", d.MediaType, d.Digest, ErrInvalid, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s %s: %w: %s", d.MediaType, d.Digest, ErrInvalid, fmt.Sprintf(format, a...))
	}
	if IsSchema1(d.MediaType) || IsSchema1(sh.MediaType) || sh.FSLayers != nil || (sh.SchemaVersion != nil && *sh.SchemaVersion == 1) {
		return nil, bad("Docker schema1 manifests are not supported (no current engine loads them); re-push the image with a current client")
	}
	if sh.SchemaVersion == nil || *sh.SchemaVersion != 2 {
		return nil, bad("schemaVersion must be 2")
	}
	if sh.MediaType != "" && sh.MediaType != d.MediaType {
		return nil, bad("document says mediaType %q but its descriptor says %q", sh.MediaType, d.MediaType)
	}
	isDocker := d.MediaType == MediaTypeDockerManifest || d.MediaType == MediaTypeDockerManifestList
	if isDocker && sh.MediaType == "" {
		return nil, bad("Docker manifests must carry their mediaType")
	}
	n := &Node{Desc: d, Raw: raw}
	switch {
	case IsIndex(d.MediaType):
		if sh.Config != nil || sh.Layers != nil {
			return nil, bad("an index must not have config or layers")
		}
		if sh.Manifests == nil || string(sh.Manifests) == "null" {
			return nil, bad("an index must have a manifests array")
		}
		n.Index = new(ocispec.Index)
		if err := json.Unmarshal(raw, n.Index); err != nil {
			return nil, bad("%v", err)
		}
		for i, c := range n.Index.Manifests {
			if err := ValidateDescriptor(c); err != nil {
				return nil, bad("manifests[%d]: %v", i, err)
			}
			if p := c.Platform; p != nil && (p.OS == "" || p.Architecture == "") {
				return nil, bad("manifests[%d]: platform needs both os and architecture", i)
			}
		}
	case IsManifest(d.MediaType):
		if sh.Manifests != nil {
			return nil, bad("a manifest must not have a manifests array")
		}
		if sh.Config == nil {
			return nil, bad("a manifest must have a config")
		}
		n.Manifest = new(ocispec.Manifest)
		if err := json.Unmarshal(raw, n.Manifest); err != nil {
			return nil, bad("%v", err)
		}
		if err := ValidateDescriptor(n.Manifest.Config); err != nil {
			return nil, bad("config: %v", err)
		}
		for i, c := range n.Manifest.Layers {
			if err := ValidateDescriptor(c); err != nil {
				return nil, bad("layers[%d]: %v", i, err)
			}
		}
	default:
		return nil, bad("not an index or manifest media type")
	}
	if s := n.Subject(); s != nil {
		if err := ValidateDescriptor(*s); err != nil {
			return nil, bad("subject: %v", err)
		}
	}
	return n, nil
}

// ValidateDescriptor checks the fields every descriptor must have right
// before ferry follows it: digest, size, media type and embedded data.
func ValidateDescriptor(d ocispec.Descriptor) error {
	if err := ValidateDigest(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size %d", d.Digest, d.Size)
	}
	if !ValidMediaType(d.MediaType) {
		return fmt.Errorf("%s: invalid mediaType %q", d.Digest, d.MediaType)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return fmt.Errorf("%s: embedded data is %d bytes, descriptor says %d: %w", d.Digest, len(d.Data), d.Size, ErrSizeMismatch)
		}
		if got := d.Digest.Algorithm().FromBytes(d.Data); got != d.Digest {
			return fmt.Errorf("%s: embedded data: %w", d.Digest, &MismatchError{Want: d.Digest, Got: got})
		}
	}
	return nil
}

// ReadAll fetches d from s, verified, refusing anything over limit. It grows
// its buffer as bytes arrive instead of trusting d.Size for an allocation.
func ReadAll(ctx context.Context, s ReadOnly, d ocispec.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("%s %s: %w: %d bytes, the limit is %d", d.MediaType, d.Digest, ErrTooLarge, d.Size, limit)
	}
	if d.Data != nil {
		if err := ValidateDescriptor(d); err != nil {
			return nil, err
		}
		return d.Data, nil
	}
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	vr, err := NewVerifyReader(rc, d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, vr); err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	return buf.Bytes(), nil
}

// FetchNode reads and decodes the index or manifest d.
func FetchNode(ctx context.Context, s ReadOnly, d ocispec.Descriptor) (*Node, error) {
	raw, err := ReadAll(ctx, s, d, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	return DecodeNode(d, raw)
}
