package layout

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// One rule for configs: os and architecture are needed only where there is
// a filesystem to run, the layer count must match diff_ids everywhere.
func TestCheckConfig(t *testing.T) {
	id := digest.FromString("x")
	man := func(layerMT string) *ocispec.Manifest {
		return &ocispec.Manifest{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("cfg")},
			Layers: []ocispec.Descriptor{{MediaType: layerMT, Digest: id, Size: 1}}}
	}
	cosign := `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["` + id.String() + `"]},"config":{}}`
	image := `{"architecture":"arm","variant":"v7","os":"linux","rootfs":{"type":"layers","diff_ids":["` + id.String() + `"]}}`
	for _, c := range []struct {
		name, cfg, layer, platform, note, err string
	}{
		{"cosign signature", cosign, "application/vnd.dev.cosign.simplesigning.v1+json", "", "no filesystem layer", ""},
		{"image", image, ocispec.MediaTypeImageLayerGzip, "linux/arm/v7", "", ""},
		{"image without os", cosign, ocispec.MediaTypeImageLayerGzip, "", "", "lacks os or architecture"},
		{"docker image without os", cosign, MediaTypeDockerLayer, "", "", "lacks os or architecture"},
		{"diff_ids", `{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}`, ocispec.MediaTypeImageLayer, "linux/amd64", "", "0 diff_ids but its manifest has 1 layers"},
		{"strict", `{"os":"linux","OS":"windows","architecture":"amd64","rootfs":{"diff_ids":["` + id.String() + `"]}}`, ocispec.MediaTypeImageLayer, "", "", "config " + digest.FromString("cfg").String()},
	} {
		f, err := CheckConfig([]byte(c.cfg), man(c.layer))
		switch {
		case c.err == "" && err != nil, c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		case f.Platform != c.platform:
			t.Errorf("%s: platform %q, want %q", c.name, f.Platform, c.platform)
		case (c.note == "") != (f.Note == "") || !strings.Contains(f.Note, c.note):
			t.Errorf("%s: note %q, want %q", c.name, f.Note, c.note)
		}
	}
}
