package layout

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxIndexSize caps index.json, read and written alike. ferry refuses to
// write an index.json over it rather than reading a larger one: the file
// is read whole by every tool that opens the layout (docker, containerd,
// skopeo each read it into memory, and regclient and oras cap it as a
// manifest), so a layout ferry could still read would lock those out
// instead, and one name per entry makes thousands of names a mistake, not
// a need. One constant for both ways is what guarantees ferry never
// writes a layout it cannot open again.
const MaxIndexSize = MaxManifestSize

// EncodeIndex renders entries as an index.json, sorted by name then
// digest, and refuses one over MaxIndexSize before anything is written;
// label names the layout or archive in the message.
func EncodeIndex(ims []Image, annotations map[string]string, label string) ([]byte, error) {
	sorted := append([]Image(nil), ims...)
	SortImages(sorted)
	idx := ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: make([]ocispec.Descriptor, 0, len(sorted)), Annotations: annotations}
	for _, im := range sorted {
		idx.Manifests = append(idx.Manifests, im.Desc)
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxIndexSize {
		return nil, fmt.Errorf("%s: index.json would be %d bytes for %d entries, over the %d that ferry and other tools read back: %w; nothing was written (each name is an entry: give this layout fewer names)",
			label, len(b), len(sorted), MaxIndexSize, ErrTooLarge)
	}
	return b, nil
}

// CheckIndexRoom says, before a long copy, whether adding ims to the
// layout's entries would still give an index.json it can read back.
func (d *Dir) CheckIndexRoom(add []Image) error {
	cur, err := d.Images()
	if err != nil {
		return err
	}
	_, err = EncodeIndex(MergeImages(cur, add), nil, d.path)
	return err
}
