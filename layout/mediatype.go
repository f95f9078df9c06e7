package layout

import (
	"regexp"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker media types that image-spec does not define. Docker schema2 images
// and manifest lists are still the most common content in registries, so
// ferry treats them as first-class alongside the OCI types.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// MaxManifestSize caps indexes, manifests and configs read into memory. It
// is the limit registries, containerd and containers/image all enforce, so
// nothing larger could have come from a registry anyway.
const MaxManifestSize = 4 << 20

// IsIndex reports whether mt names an image index or manifest list.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt names an image manifest (OCI or Docker schema2).
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// IsSchema1 reports the deprecated Docker schema1 types, which no current
// engine loads and ferry refuses with a clear message.
func IsSchema1(mt string) bool {
	return mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1JWS
}

// IsNonDistributable reports layers that registries must not receive and
// that ferry never fetches from their urls (that would be an SSRF hole).
func IsNonDistributable(mt string) bool {
	return mt == MediaTypeDockerForeignLayer || strings.HasPrefix(mt, "application/vnd.oci.image.layer.nondistributable.")
}

// IsConfig reports the image config types whose JSON ferry may parse.
func IsConfig(mt string) bool {
	return mt == ocispec.MediaTypeImageConfig || mt == MediaTypeDockerConfig
}

var mediaTypeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// ValidMediaType checks the RFC 6838 shape the image-spec schema requires.
func ValidMediaType(mt string) bool { return mediaTypeRe.MatchString(mt) }
