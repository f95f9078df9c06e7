package layout

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var (
	_ Writable = (*Dir)(nil)
	_ Tagger   = (*Dir)(nil)
	_ Resolver = (*Dir)(nil)
	_ Lister   = (*Dir)(nil)
)

// Tag implements Tagger: ref (a full reference; a digest in it is refused,
// since a name by digest is not a tag) becomes an index.json entry for d,
// moving the name if another image held it, as a registry tag moves. The
// content must already be in the layout, so a tag never dangles.
func (d *Dir) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	r, err := ParseRef(ref)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("tag %q must not contain a digest: %w", ref, ErrInvalid)
	}
	if ok, err := d.Exists(ctx, desc); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s: cannot tag %s as %s: %w", d.path, desc.Digest, r, ErrNotFound)
	}
	return d.UpdateIndex(ctx, func(ims []Image) ([]Image, error) {
		return MergeImages(ims, []Image{{Ref: r, Desc: Annotate(desc, r), NameFrom: NameFromContainerd}}), nil
	})
}
