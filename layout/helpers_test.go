package layout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var v2 = specs.Versioned{SchemaVersion: 2}

// newDir creates an empty layout in a temp directory, closed at cleanup.
func newDir(t *testing.T) *layout.Dir {
	t.Helper()
	d, err := layout.CreateDir(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// pushBytes stores b in s under its sha256 descriptor.
func pushBytes(t testing.TB, s layout.Store, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := s.Push(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatalf("push %s: %v", mt, err)
	}
	return d
}

// pushJSON marshals v and stores it.
func pushJSON(t testing.TB, s layout.Store, mt string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return pushBytes(t, s, mt, b)
}

// testImage is a single-platform image pushed into a store.
type testImage struct {
	Manifest ocispec.Descriptor // with Platform set when one was given
	Config   ocispec.Descriptor
	Layers   []ocispec.Descriptor
}

// blobs are the config and layers.
func (im testImage) blobs() []ocispec.Descriptor {
	return append([]ocispec.Descriptor{im.Config}, im.Layers...)
}

// buildImage pushes random layers, a config and a manifest into s.
func buildImage(t testing.TB, s layout.Store, plat *ocispec.Platform, nLayers int) testImage {
	t.Helper()
	var im testImage
	cfg := ocispec.Image{RootFS: ocispec.RootFS{Type: "layers"}}
	if plat != nil {
		cfg.Platform = *plat
	}
	for range nLayers {
		b, _ := storetest.Blob(t, 2000)
		im.Layers = append(im.Layers, pushBytes(t, s, ocispec.MediaTypeImageLayer, b))
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(b))
	}
	im.Config = pushJSON(t, s, ocispec.MediaTypeImageConfig, cfg)
	im.Manifest = pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: im.Config, Layers: im.Layers,
	})
	im.Manifest.Platform = plat
	return im
}

// buildIndex pushes an OCI index of children.
func buildIndex(t testing.TB, s layout.Store, children ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	return pushJSON(t, s, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: v2, MediaType: ocispec.MediaTypeImageIndex, Manifests: children,
	})
}

// buildAttestation pushes a BuildKit-style attestation manifest for subject
// and returns its index entry.
func buildAttestation(t testing.TB, s layout.Store, subject ocispec.Descriptor) (ocispec.Descriptor, testImage) {
	t.Helper()
	stmt := pushBytes(t, s, "application/vnd.in-toto+json", []byte(`{"subject":"`+subject.Digest.String()+`"}`))
	cfg := pushBytes(t, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`))
	m := pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{stmt},
	})
	m.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	m.Annotations = map[string]string{
		"vnd.docker.reference.type":   "attestation-manifest",
		"vnd.docker.reference.digest": subject.Digest.String(),
	}
	return m, testImage{Manifest: m, Config: cfg, Layers: []ocispec.Descriptor{stmt}}
}

// digests lists the digests of ds, sorted, for comparisons.
func digests(ds ...ocispec.Descriptor) []digest.Digest {
	out := make([]digest.Digest, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func nodeDigests(g *layout.Graph) []digest.Digest {
	var ds []ocispec.Descriptor
	for _, n := range g.Nodes {
		ds = append(ds, n.Desc)
	}
	return digests(ds...)
}

// snapshot maps every path under root, except ferry's own .ferry/
// bookkeeping, to its type and a hash of its content, so tests can prove a
// layout is byte-identical before and after an operation.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() && e.Name() == ".ferry" {
			return filepath.SkipDir
		}
		if e.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[rel] = e.Type().String() + " " + hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertSnapshot(t *testing.T, root string, before map[string]string) {
	t.Helper()
	after := snapshot(t, root)
	if !maps.Equal(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("%s: changed or added (%s)", k, v)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Errorf("%s: removed", k)
			}
		}
	}
}

// named builds the index entry ferry would write for d under ref.
func named(t testing.TB, d ocispec.Descriptor, ref string) layout.Image {
	t.Helper()
	r, err := layout.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return layout.InterpretEntry(layout.Annotate(d, r))
}
