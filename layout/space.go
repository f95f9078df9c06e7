package layout

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CheckRoomFor fails early when the layout's file system cannot hold the
// blobs it does not have yet, in all (free space) or one by one (FAT's
// largest file): an import or pull learns it before the first byte, not
// after gigabytes.
func (d *Dir) CheckRoomFor(ctx context.Context, blobs []ocispec.Descriptor) error {
	var need int64
	for _, b := range blobs {
		if ok, _ := d.Exists(ctx, b); !ok {
			if err := d.CheckFits(b); err != nil {
				return err
			}
			need += b.Size
		}
	}
	return CheckSpace(d.path, need)
}
