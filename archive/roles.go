package archive

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// An opened archive or layout is read-only by type: it has no Push. Its
// names are the images ferry understood, which for a docker-save archive
// come from manifest.json rather than index.json.
var (
	_ layout.ReadOnly = (*Source)(nil)
	_ layout.Lister   = (*Source)(nil)
	_ layout.Resolver = (*Source)(nil)
)

// Names implements layout.Lister.
func (src *Source) Names(context.Context) ([]layout.Image, error) {
	return append([]layout.Image(nil), src.Images...), nil
}

// Resolve implements layout.Resolver with layout.Match's rules.
func (src *Source) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	m, err := layout.Match(src.Images, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", src.Label(), err)
	}
	return m[0].Desc, nil
}

// Info implements layout.ReadOnly, adding the media type of the images'
// roots, which the archive's own index knows.
func (src *Source) Info(ctx context.Context, d digest.Digest) (layout.BlobInfo, error) {
	info, err := src.FS.Info(ctx, d)
	if err != nil {
		return info, err
	}
	for _, im := range src.Images {
		if im.Desc.Digest == d {
			info.MediaType = im.Desc.MediaType
		}
	}
	return info, nil
}
