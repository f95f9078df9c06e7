package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatforms reads docker's --platform syntax: a comma-separated list
// of os/arch[/variant], e.g. "linux/amd64,linux/arm64/v8".
func ParsePlatforms(s string) ([]ocispec.Platform, error) {
	var out []ocispec.Platform
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "/")
		if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("platform %q: expected os/arch[/variant], e.g. linux/amd64", part)
		}
		p := ocispec.Platform{OS: strings.ToLower(f[0]), Architecture: strings.ToLower(f[1])}
		if len(f) == 3 {
			p.Variant = strings.ToLower(f[2])
		}
		out = append(out, normalizePlatform(p))
	}
	return out, nil
}

// normalizePlatform applies the aliases docker and containerd accept, so
// that "linux/aarch64" finds an arm64 image.
func normalizePlatform(p ocispec.Platform) ocispec.Platform {
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	if p.Architecture == "arm64" && p.Variant == "v8" {
		p.Variant = ""
	}
	return p
}

// PlatformString formats p as os/arch[/variant].
func PlatformString(p *ocispec.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// MatchPlatform reports whether an index entry's platform is one the user
// asked for. A variant in the request must match; none matches any.
func MatchPlatform(want []ocispec.Platform, have *ocispec.Platform) bool {
	if len(want) == 0 || have == nil {
		return true
	}
	h := normalizePlatform(*have)
	for _, w := range want {
		if w.OS == h.OS && w.Architecture == h.Architecture && (w.Variant == "" || w.Variant == h.Variant) {
			return true
		}
	}
	return false
}

// ConfigPlatform reads the platform of a single-image manifest from its
// config, for images that are not in an index and so carry no platform
// field. It returns "" for artifacts and unreadable configs.
func ConfigPlatform(ctx context.Context, s ReadOnly, m *Node) string {
	if m == nil || m.Manifest == nil || !IsConfig(m.Manifest.Config.MediaType) {
		return ""
	}
	b, err := ReadAll(ctx, s, m.Manifest.Config, MaxManifestSize)
	if err != nil {
		return ""
	}
	var p ocispec.Platform
	if json.Unmarshal(b, &p) != nil || p.OS == "" || p.Architecture == "" {
		return ""
	}
	return PlatformString(&p)
}

// RootPlatforms lists the platforms of the image rooted at root in g: those
// of its index, or its config's for a single image.
func RootPlatforms(ctx context.Context, s ReadOnly, g *Graph, root ocispec.Descriptor) []string {
	if p := g.Platforms[root.Digest]; len(p) > 0 {
		return p
	}
	if p := ConfigPlatform(ctx, s, g.Node(root.Digest)); p != "" {
		return []string{p}
	}
	return []string{}
}
