package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Resolver runs the suite of the resolver role: every name the oracle
// gives resolves to its digest, an unknown name is ErrNotFound.
func Resolver(t *testing.T, s layout.Resolver, names map[string]digest.Digest) {
	ctx := context.Background()
	if len(names) == 0 {
		t.Fatal("storetest: a resolver under test must know at least one name")
	}
	for name, want := range names {
		d, err := s.Resolve(ctx, name)
		if err != nil {
			t.Errorf("Resolve(%q): %v", name, err)
			continue
		}
		if d.Digest != want {
			t.Errorf("Resolve(%q) = %s, want %s", name, d.Digest, want)
		}
		if d.Size <= 0 || d.MediaType == "" {
			t.Errorf("Resolve(%q) = size %d, media type %q: a descriptor must be complete", name, d.Size, d.MediaType)
		}
	}
	if _, err := s.Resolve(ctx, "storetest.invalid/never/named:nope"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Resolve of an unknown name: %v, want ErrNotFound", err)
	}
}

// Lister runs the suite of the lister role: Names holds every name the
// oracle gives with its digest, Blobs every blob digest it lists (aliased
// and generated ones included) with the size Info reports.
func Lister(t *testing.T, s interface {
	layout.Lister
	layout.ReadOnly
}, names map[string]digest.Digest, blobs []digest.Digest) {
	ctx := context.Background()
	ims, err := s.Names(ctx)
	if err != nil {
		t.Fatalf("Names: %v", err)
	}
	got := map[string]digest.Digest{}
	for _, im := range ims {
		got[im.Name()] = im.Desc.Digest
	}
	for n, want := range names {
		if got[n] != want {
			t.Errorf("Names: %q = %q, want %s (have %v)", n, got[n], want, got)
		}
	}
	list, err := s.Blobs(ctx)
	if err != nil {
		t.Fatalf("Blobs: %v", err)
	}
	sizes := map[digest.Digest]int64{}
	for _, b := range list {
		if b.Err == nil {
			sizes[b.Digest] = b.Size
		}
	}
	for _, d := range blobs {
		size, ok := sizes[d]
		if !ok {
			t.Errorf("Blobs does not list %s", d)
			continue
		}
		if info, err := s.Info(ctx, d); err != nil || info.Size != size {
			t.Errorf("Blobs says %s is %d bytes, Info says %d (%v)", d, size, info.Size, err)
		}
	}
}

// TagStore is what the tagger suite needs around the role: content to
// tag and a way to read the name back.
type TagStore interface {
	layout.Writable
	layout.Tagger
	layout.Resolver
}

// Tagger runs the suite of the tagger role. newStore returns a fresh,
// empty store; name(tag) gives the full reference a tag has in it (a
// registry repository names tags within itself).
func Tagger(t *testing.T, newStore func(t *testing.T) TagStore, name func(tag string) string) {
	ctx := context.Background()
	manifest := func(t *testing.T, s TagStore, layer string) ocispec.Descriptor {
		t.Helper()
		cfg := []byte("{}")
		cd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: 2}
		ld := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString(layer), Size: int64(len(layer))}
		m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}})
		md := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
		for _, p := range []struct {
			d ocispec.Descriptor
			b []byte
		}{{cd, cfg}, {ld, []byte(layer)}, {md, m}} {
			if err := s.Push(ctx, p.d, bytes.NewReader(p.b)); err != nil {
				t.Fatalf("Push %s: %v", p.d.Digest, err)
			}
		}
		return md
	}
	t.Run("TagAndMove", func(t *testing.T) {
		s := newStore(t)
		a, b := manifest(t, s, "layer a"), manifest(t, s, "layer b")
		if err := s.Tag(ctx, a, name("v1")); err != nil {
			t.Fatalf("Tag: %v", err)
		}
		if d, err := s.Resolve(ctx, name("v1")); err != nil || d.Digest != a.Digest {
			t.Fatalf("Resolve after Tag = %s, %v; want %s", d.Digest, err, a.Digest)
		}
		if err := s.Tag(ctx, b, name("v1")); err != nil {
			t.Fatalf("Tag (move): %v", err)
		}
		if d, err := s.Resolve(ctx, name("v1")); err != nil || d.Digest != b.Digest {
			t.Fatalf("Resolve after the tag moved = %s, %v; want %s", d.Digest, err, b.Digest)
		}
	})
	t.Run("AbsentContent", func(t *testing.T) {
		s := newStore(t)
		m := []byte(`{"schemaVersion":2}`)
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
		if err := s.Tag(ctx, d, name("dangling")); err == nil {
			t.Fatal("Tag of content the store does not hold succeeded: a name would dangle")
		}
		if _, err := s.Resolve(ctx, name("dangling")); !errors.Is(err, layout.ErrNotFound) {
			t.Fatalf("Resolve of a refused tag: %v, want ErrNotFound", err)
		}
	})
}
