package layout_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const refName = ocispec.AnnotationRefName

func entry(seed string, ann map[string]string) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(seed), Size: int64(len(seed)), Annotations: ann}
}

func TestInterpretEntry(t *testing.T) {
	cases := []struct {
		name    string
		ann     map[string]string
		want    layout.Ref
		from    string
		display string
		hasNote bool
	}{
		{"containerd name", map[string]string{layout.AnnotationImageName: "docker.io/library/alpine:3.19", refName: "3.19"},
			layout.Ref{Repo: "docker.io/library/alpine", Tag: "3.19"}, layout.NameFromContainerd, "docker.io/library/alpine:3.19", false},
		{"containerd name wins over ref.name", map[string]string{layout.AnnotationImageName: "alpine:3.19", refName: "other/name:1"},
			layout.Ref{Repo: "docker.io/library/alpine", Tag: "3.19"}, layout.NameFromContainerd, "docker.io/library/alpine:3.19", false},
		{"full ref.name (podman)", map[string]string{refName: "localhost/app:1"},
			layout.Ref{Repo: "localhost/app", Tag: "1"}, layout.NameFromRefFull, "localhost/app:1", false},
		{"full ref.name normalized (crane)", map[string]string{refName: "index.docker.io/library/busybox:latest"},
			layout.Ref{Repo: "docker.io/library/busybox", Tag: "latest"}, layout.NameFromRefFull, "docker.io/library/busybox:latest", false},
		{"tag only (oras, regctl)", map[string]string{refName: "v1.0.0-vendor.0"},
			layout.Ref{Tag: "v1.0.0-vendor.0"}, layout.NameFromRefTag, ":v1.0.0-vendor.0", false},
		{"none", nil, layout.Ref{}, layout.NameFromNone, "@" + digest.FromString("none").String(), false},
		{"empty ref.name", map[string]string{refName: ""}, layout.Ref{}, layout.NameFromNone, "", false},
		{"bad containerd name falls back", map[string]string{layout.AnnotationImageName: "Not A Ref", refName: "v2"},
			layout.Ref{Tag: "v2"}, layout.NameFromRefTag, ":v2", true},
		{"bad full ref.name", map[string]string{refName: "[::1]:5000/Foo:bar"}, layout.Ref{}, layout.NameFromNone, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := entry("none", tc.ann)
			im := layout.InterpretEntry(d)
			if im.Ref != tc.want || im.NameFrom != tc.from {
				t.Fatalf("InterpretEntry = %+v from %q; want %+v from %q", im.Ref, im.NameFrom, tc.want, tc.from)
			}
			if tc.display != "" && im.Name() != tc.display {
				t.Errorf("Name() = %q, want %q", im.Name(), tc.display)
			}
			if (im.Note != "") != tc.hasNote {
				t.Errorf("Note = %q, want a note: %v", im.Note, tc.hasNote)
			}
			if im.Desc.Digest != d.Digest {
				t.Errorf("Desc not kept")
			}
		})
	}
}

func TestAnnotate(t *testing.T) {
	base := entry("img", map[string]string{"org.opencontainers.image.created": "2024", refName: "stale", layout.AnnotationImageName: "stale:1"})
	orig := maps.Clone(base.Annotations)
	mustRef := func(s string) layout.Ref {
		r, err := layout.ParseRef(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name           string
		ref            layout.Ref
		containerd, rn string // "" means absent
	}{
		{"tag", mustRef("alpine:3.19"), "docker.io/library/alpine:3.19", "3.19"},
		{"tag and digest keeps the tag name", mustRef("ghcr.io/o/r:v1@" + base.Digest.String()), "ghcr.io/o/r:v1", "v1"},
		{"digest only", layout.Ref{Repo: "ghcr.io/o/r"}, "ghcr.io/o/r@" + base.Digest.String(), "ghcr.io/o/r@" + base.Digest.String()},
		{"tag outside the ref.name grammar", layout.Ref{Repo: "docker.io/library/a", Tag: "_x"}, "docker.io/library/a:_x", ""},
		{"tag only", layout.Ref{Tag: "v1"}, "", "v1"},
		{"no name", layout.Ref{}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := layout.Annotate(base, tc.ref)
			for key, want := range map[string]string{layout.AnnotationImageName: tc.containerd, refName: tc.rn} {
				v, ok := got.Annotations[key]
				if want == "" && ok {
					t.Errorf("%s = %q, want it absent", key, v)
				}
				if want != "" && v != want {
					t.Errorf("%s = %q, want %q", key, v, want)
				}
			}
			if got.Annotations["org.opencontainers.image.created"] != "2024" {
				t.Error("Annotate dropped an unrelated annotation")
			}
			if got.Digest != base.Digest || got.Size != base.Size {
				t.Error("Annotate changed the descriptor")
			}
		})
	}
	if !maps.Equal(base.Annotations, orig) {
		t.Fatal("Annotate modified the caller's annotation map")
	}
	if d := layout.Annotate(entry("x", map[string]string{refName: "v1"}), layout.Ref{}); d.Annotations != nil {
		t.Fatalf("no annotations left should give nil, got %v", d.Annotations)
	}
}

// What ferry writes, ferry reads back under the same name.
func TestAnnotateRoundTrip(t *testing.T) {
	for _, s := range []string{"busybox", "alpine:3.19", "localhost:5000/a/b:c", "ghcr.io/o/r:_x", "foo:Bar"} {
		r, _ := layout.ParseRef(s)
		im := layout.InterpretEntry(layout.Annotate(entry(s, nil), r))
		if im.Ref != r || im.NameFrom != layout.NameFromContainerd {
			t.Errorf("%s: read back %+v from %q", s, im.Ref, im.NameFrom)
		}
	}
	d := entry("digest-only", nil)
	im := layout.InterpretEntry(layout.Annotate(d, layout.Ref{Repo: "docker.io/library/a"}))
	if want := (layout.Ref{Repo: "docker.io/library/a", Digest: d.Digest}); im.Ref != want {
		t.Errorf("digest-only read back %+v, want %+v", im.Ref, want)
	}
}

func matchFixture(t *testing.T) (map[string]layout.Image, []layout.Image) {
	ims := map[string]layout.Image{
		"alpine319": named(t, entry("alpine", nil), "alpine:3.19"),
		"alpine320": named(t, entry("alpine", nil), "alpine:3.20"), // same digest, second tag
		"busybox":   named(t, entry("busybox", nil), "busybox"),
		"tagOnly":   layout.InterpretEntry(entry("tagonly", map[string]string{refName: "v1"})),
		"podman":    layout.InterpretEntry(entry("podman", map[string]string{refName: "localhost/app:1"})),
		"byDigest":  layout.InterpretEntry(layout.Annotate(entry("bydigest", nil), layout.Ref{Repo: "ghcr.io/o/r"})),
		"app10":     named(t, entry("app", nil), "app:1.0"),
		"tag10":     layout.InterpretEntry(entry("tag10", map[string]string{refName: "1.0"})),
		"plus":      layout.InterpretEntry(entry("plus", map[string]string{refName: "v1+build"})),
	}
	var all []layout.Image
	for _, im := range ims {
		all = append(all, im)
	}
	return ims, all
}

func TestMatch(t *testing.T) {
	ims, all := matchFixture(t)
	dig := func(k string) string { return ims[k].Desc.Digest.String() }
	cases := []struct {
		query string
		want  string // key of the expected image (by digest)
	}{
		{"localhost/app:1", "podman"},                         // exact ref.name
		{"v1+build", "plus"},                                  // exact ref.name that is no valid reference
		{"3.19", "alpine319"},                                 // exact ref.name (tag)
		{"alpine:3.19", "alpine319"},                          // normalized full name
		{"docker.io/library/alpine:3.19", "alpine319"},        // already normalized
		{"index.docker.io/library/busybox:latest", "busybox"}, // alias host
		{"busybox", "busybox"},                                // implied :latest
		{"myrepo/app:v1", "tagOnly"},                          // tag-only entry, repository from the user
		{"app:1.0", "app10"},                                  // a full match beats a tag-only one
		{"alpine:3.19@" + dig("alpine319"), "alpine319"},      // pinned, tag agrees
		{"alpine:3.18@" + dig("alpine319"), "alpine319"},      // pinned, the tag has moved on: digest wins
		{"alpine@" + dig("alpine319"), "alpine319"},           // digest only
		{"ghcr.io/o/r@" + dig("byDigest"), "byDigest"},        // entry kept by digest only
		{"@" + dig("podman"), "podman"},                       // by digest, as ls shows an unnamed image
		{dig("alpine319"), "alpine319"},                       // a bare digest
	}
	for _, tc := range cases {
		got, err := layout.Match(all, tc.query)
		if err != nil {
			t.Errorf("Match(%q): %v", tc.query, err)
			continue
		}
		if len(got) == 0 {
			t.Errorf("Match(%q) returned nothing", tc.query)
		}
		for _, im := range got {
			if im.Desc.Digest != ims[tc.want].Desc.Digest {
				t.Errorf("Match(%q) returned %s, want %s", tc.query, im.Name(), ims[tc.want].Name())
			}
		}
	}
	for _, q := range []string{
		"alpine", "alpine:3.18", "ghcr.io/o/r", "nothing:here",
		"alpine:3.19@" + dig("busybox"), // pinned to a digest the name never had
	} {
		if got, err := layout.Match(all, q); !errors.Is(err, layout.ErrNotFound) {
			t.Errorf("Match(%q) = %d images, %v; want ErrNotFound", q, len(got), err)
		}
	}
	if _, err := layout.Match(all, "Bad/Name"); err == nil {
		t.Error("Match with an invalid reference succeeded")
	}
}

func TestMatchAmbiguous(t *testing.T) {
	a := layout.InterpretEntry(entry("a", map[string]string{refName: "latest"}))
	b := layout.InterpretEntry(entry("b", map[string]string{refName: "latest"}))
	for _, q := range []string{"latest", "anything", "anything:latest"} {
		_, err := layout.Match([]layout.Image{a, b}, q)
		if !errors.Is(err, layout.ErrAmbiguous) {
			t.Errorf("Match(%q) over two tag-only entries: %v, want ErrAmbiguous", q, err)
		} else if !strings.Contains(err.Error(), a.Desc.Digest.String()) || !strings.Contains(err.Error(), b.Desc.Digest.String()) {
			t.Errorf("ambiguity message %q does not name both digests", err)
		}
	}
	// Two entries of one digest are one image, not an ambiguity.
	same := layout.InterpretEntry(entry("a", map[string]string{refName: "latest", "x": "y"}))
	if got, err := layout.Match([]layout.Image{a, same}, "latest"); err != nil || len(got) != 2 {
		t.Errorf("same digest twice: %d, %v", len(got), err)
	}
	x := named(t, entry("x", nil), "ghcr.io/o/r:1")
	y := named(t, entry("y", nil), "ghcr.io/o/r:1")
	if _, err := layout.Match([]layout.Image{x, y}, "ghcr.io/o/r:1"); !errors.Is(err, layout.ErrAmbiguous) {
		t.Errorf("one full name on two digests: %v, want ErrAmbiguous", err)
	}
}

// An empty query is no reference; it must not select unnamed entries
// because their missing ref.name reads as "".
func TestMatchEmptyQuery(t *testing.T) {
	unnamed := layout.InterpretEntry(entry("unnamed", nil))
	if got, err := layout.Match([]layout.Image{unnamed}, ""); err == nil {
		t.Fatalf("Match(\"\") = %d images, want an error", len(got))
	}
}

func TestSortImages(t *testing.T) {
	ims := []layout.Image{
		named(t, entry("b2", nil), "b:2"),
		layout.InterpretEntry(entry("u", nil)),
		named(t, entry("a1", nil), "a:1"),
		layout.InterpretEntry(entry("t", map[string]string{refName: "t"})),
		named(t, entry("b1", nil), "b:1"),
	}
	layout.SortImages(ims)
	var names []string
	for _, im := range ims {
		names = append(names, im.Name())
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] > names[i] {
			t.Fatalf("not sorted: %q", names)
		}
	}
	if names[0] != ":t" || names[len(names)-1] != "docker.io/library/b:2" {
		t.Fatalf("order %q", names)
	}
}
