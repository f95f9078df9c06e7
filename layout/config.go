package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ConfigFacts is what ferry takes from an image config.
type ConfigFacts struct {
	// Platform is os/arch[/variant], "" when the config names none.
	Platform string
	// Note tells the user of an accepted departure from the schema.
	Note string
}

// CheckConfig judges the config b of manifest m. It is the one rule that
// import, pull and verify apply, so no command accepts a config another
// calls invalid. Strict JSON, and as many diff_ids as layers (docker load
// refuses otherwise), always. os and architecture only when the manifest
// has a filesystem layer: the schema asks for them, but an artifact that
// borrows the image config type has nothing to run, and cosign writes its
// signatures with both empty. There they are a note, not a fault.
func CheckConfig(b []byte, m *ocispec.Manifest) (ConfigFacts, error) {
	d := m.Config.Digest
	if err := StrictConfigJSON(b); err != nil {
		return ConfigFacts{}, fmt.Errorf("config %s: %w: %v", d, ErrInvalid, err)
	}
	var c struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
		RootFS       struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return ConfigFacts{}, fmt.Errorf("config %s: %w: %v", d, ErrInvalid, err)
	}
	var f ConfigFacts
	if c.OS != "" && c.Architecture != "" {
		f.Platform = PlatformString(&ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant})
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return f, fmt.Errorf("%w: config %s has %d diff_ids but its manifest has %d layers", ErrInvalid, d, len(c.RootFS.DiffIDs), len(m.Layers))
	}
	if f.Platform == "" {
		if runnable(m) {
			return f, fmt.Errorf("%w: config %s lacks os or architecture, which the image-spec schema requires of an image with filesystem layers", ErrInvalid, d)
		}
		f.Note = fmt.Sprintf("config %s names no os or architecture: an artifact (no filesystem layer), so none is needed", d)
	}
	return f, nil
}

// CheckConfigs applies CheckConfig to every image config of g, read from
// s, for a command that takes content in (import, pull) to judge it as
// verify will. An absent config is left to the completeness check. On a
// refusal it returns the manifest that names the config.
func CheckConfigs(ctx context.Context, s ReadOnly, g *Graph) (notes []string, manifest digest.Digest, err error) {
	seen := map[digest.Digest]bool{}
	for _, n := range g.Nodes {
		if n.Manifest == nil || !IsConfig(n.Manifest.Config.MediaType) || seen[n.Manifest.Config.Digest] {
			continue
		}
		seen[n.Manifest.Config.Digest] = true
		b, err := ReadAll(ctx, s, n.Manifest.Config, MaxManifestSize)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil {
			var f ConfigFacts
			if f, err = CheckConfig(b, n.Manifest); f.Note != "" {
				notes = append(notes, f.Note)
			}
		}
		if err != nil {
			return nil, n.Desc.Digest, err
		}
	}
	return notes, "", nil
}

// runnable reports whether m has a layer that is a container filesystem.
func runnable(m *ocispec.Manifest) bool {
	for _, l := range m.Layers {
		if IsFilesystemLayer(l.MediaType) {
			return true
		}
	}
	return false
}

// IsFilesystemLayer reports the layer types an engine unpacks into a root
// filesystem: OCI's (plain, compressed, non-distributable, encrypted) and
// docker's rootfs diffs.
func IsFilesystemLayer(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") || strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}
