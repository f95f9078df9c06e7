package archive

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Format is the shape of an archive Write produces. Both is the default
// because it is the one file every loader reads; the narrower shapes exist
// for the loaders that misread it, and each gives something up (see
// docs/COMPATIBILITY.md).
type Format int

const (
	// Both: an OCI layout (oci-layout, index.json with full names, every
	// platform) that is also a docker-save archive (manifest.json naming
	// one platform's image per name).
	Both Format = iota
	// OCI: the OCI layout alone. Indexes, referrers and every platform
	// keep their digests; docker 24 and older cannot load it.
	OCI
	// Docker: manifest.json and the blobs it names, one platform per
	// image. Every docker version loads it, but index digests, other
	// platforms and artifacts are left out: what a reader rebuilds from it
	// has the converted manifest digests docker itself would compute.
	Docker
)

// ParseFormat reads the --format flag.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "both":
		return Both, nil
	case "oci":
		return OCI, nil
	case "docker":
		return Docker, nil
	}
	return Both, fmt.Errorf("unknown archive format %q: use docker, oci or both", s)
}

func (f Format) String() string {
	switch f {
	case OCI:
		return "oci"
	case Docker:
		return "docker"
	}
	return "both"
}

// MarshalText lets --json results say the format by name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f Format) oci() bool    { return f != Docker }
func (f Format) docker() bool { return f != OCI }

// dockerOnly narrows a plan to what manifest.json names: the configs and
// layers of the images docker will load, nothing else.
func (p *plan) dockerOnly(used map[digest.Digest]bool) {
	keep := func(in []ocispec.Descriptor) []ocispec.Descriptor {
		var out []ocispec.Descriptor
		for _, d := range in {
			if used[d.Digest] {
				out = append(out, d)
			}
		}
		return out
	}
	p.meta, p.layers = keep(p.meta), keep(p.layers)
}
