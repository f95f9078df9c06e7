package memstore

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Info implements layout.ReadOnly. The store keeps bytes, not descriptors,
// so it knows a media type only for content that was tagged.
func (s *Store) Info(_ context.Context, d digest.Digest) (layout.BlobInfo, error) {
	if err := layout.ValidateDigest(d); err != nil {
		return layout.BlobInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.blobs[d]
	if !ok {
		return layout.BlobInfo{}, fmt.Errorf("memstore: blob %s: %w", d, layout.ErrNotFound)
	}
	info := layout.BlobInfo{Path: "mem:" + d.String(), Digest: d, Size: int64(len(b))}
	for _, im := range s.names {
		if im.Desc.Digest == d {
			info.MediaType = im.Desc.MediaType
		}
	}
	return info, nil
}

// Tag implements layout.Tagger with a layout's rules: a full reference
// without a digest, for content the store holds; a name moves.
func (s *Store) Tag(ctx context.Context, d ocispec.Descriptor, ref string) error {
	r, err := layout.ParseRef(ref)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("tag %q must not contain a digest: %w", ref, layout.ErrInvalid)
	}
	if ok, err := s.Exists(ctx, d); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("memstore: cannot tag %s as %s: %w", d.Digest, r, layout.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = layout.MergeImages(s.names, []layout.Image{{Ref: r, Desc: layout.Annotate(d, r), NameFrom: layout.NameFromContainerd}})
	return nil
}

// Resolve implements layout.Resolver with layout.Match's rules.
func (s *Store) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, err := layout.Match(s.names, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("memstore: %w", err)
	}
	return m[0].Desc, nil
}

// Names implements layout.Lister.
func (s *Store) Names(context.Context) ([]layout.Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]layout.Image(nil), s.names...), nil
}
