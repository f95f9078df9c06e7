package layout

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Repair is a blob the layout held in a corrupt copy (of the right size)
// that a write replaced with the verified content from its source.
type Repair struct {
	Desc ocispec.Descriptor
	Err  error // what was wrong with the old copy
}

// Repaired lists the corrupt copies this handle's writes replaced, so a
// command can say so rather than only "verified".
func (d *Dir) Repaired() []Repair {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Repair(nil), d.repaired...)
}

// checkPresent hashes the copy of desc the layout holds.
func (d *Dir) checkPresent(ctx context.Context, desc ocispec.Descriptor) error {
	return intact(ctx, d.FS, desc)
}
