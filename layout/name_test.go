package layout_test

import (
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
)

// FORMATS.md §8.1, valid references and their normalized form.
func TestParseRefValid(t *testing.T) {
	a64, f64 := strings.Repeat("a", 64), strings.Repeat("f", 64)
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		in, norm, familiar string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"  busybox:1.36 ", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"index.docker.io/busybox:1", "docker.io/library/busybox:1", "busybox:1"},
		{"registry-1.docker.io/busybox", "registry-1.docker.io/busybox:latest", ""},
		{"localhost/foo", "localhost/foo:latest", ""},
		{"localhost:5000/foo:bar", "localhost:5000/foo:bar", ""},
		{"LOCALDOMAIN/foo", "LOCALDOMAIN/foo:latest", ""},
		{"Foo/bar", "Foo/bar:latest", ""},
		{"foo:Bar", "docker.io/library/foo:Bar", "foo:Bar"},
		{"foo__bar/baz", "docker.io/foo__bar/baz:latest", "foo__bar/baz:latest"},
		{"foo--bar/baz", "docker.io/foo--bar/baz:latest", ""},
		{"ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "ghcr.io/o/r:v1"},
		{"example.com/a:tag@sha256:" + a64, "example.com/a:tag@sha256:" + a64, ""},
		{"ubuntu@sha256:" + f64, "docker.io/library/ubuntu@sha256:" + f64, "ubuntu@sha256:" + f64},
		{"a:" + strings.Repeat("t", 128), "docker.io/library/a:" + strings.Repeat("t", 128), ""},
		{"example.com:5000/" + strings.Repeat("a", 255), "example.com:5000/" + strings.Repeat("a", 255) + ":latest", ""},
		{"[::1]:5000/foo", "[::1]:5000/foo:latest", ""},
		{"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo:tag", ""},
		{"docker.io/" + hex, "docker.io/library/" + hex + ":latest", ""},
		{"example.com/a@sha512:" + strings.Repeat("a", 128), "example.com/a@sha512:" + strings.Repeat("a", 128), ""},
	}
	for _, tc := range cases {
		r, err := layout.ParseRef(tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if got := r.String(); got != tc.norm {
			t.Errorf("ParseRef(%q).String() = %q, want %q", tc.in, got, tc.norm)
		}
		if tc.familiar != "" && r.Familiar() != tc.familiar {
			t.Errorf("ParseRef(%q).Familiar() = %q, want %q", tc.in, r.Familiar(), tc.familiar)
		}
		back, err := layout.ParseRef(r.String())
		if err != nil || back != r {
			t.Errorf("ParseRef(%q) does not round-trip: %+v, %v", r.String(), back, err)
		}
	}
}

func TestParseRefFields(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("a", 64))
	r, err := layout.ParseRef("example.com/a:tag@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if want := (layout.Ref{Repo: "example.com/a", Tag: "tag", Digest: d}); r != want {
		t.Fatalf("ParseRef = %+v, want %+v (both tag and digest kept)", r, want)
	}
	r, _ = layout.ParseRef("ubuntu@" + d.String())
	if r.Tag != "" || r.Digest != d {
		t.Fatalf("digest-only reference got tag %q digest %q; want no :latest", r.Tag, r.Digest)
	}
}

// FORMATS.md §8.1, invalid references.
func TestParseRefInvalid(t *testing.T) {
	a64 := strings.Repeat("a", 64)
	for _, in := range []string{
		"foo/Bar", "foo___bar/baz", "foo.-bar", "foo/", "/foo", "foo//bar", "::1/foo",
		"a:.tag", "a:-tag", "a:" + strings.Repeat("t", 129),
		"example.com/a@sha256:" + strings.ToUpper(a64),
		"example.com/a@sha256:" + a64[:63],
		"example.com/a@md5:" + a64[:32],
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"example.com/" + strings.Repeat("a", 256),
		"[fe80::1%eth0]:5000/repo", "[2001:db8::1]", "[2001:db8::1]:5000",
		"", "   ", ":justtag", "@sha256:" + a64, "alpine tag", "foo:bar:baz",
	} {
		if r, err := layout.ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", in, r)
		}
	}
}

func TestRefString(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("b", 64))
	for _, tc := range []struct {
		r    layout.Ref
		want string
	}{
		{layout.Ref{Repo: "docker.io/library/a", Tag: "1"}, "docker.io/library/a:1"},
		{layout.Ref{Repo: "docker.io/library/a", Digest: d}, "docker.io/library/a@" + d.String()},
		{layout.Ref{Repo: "example.com/a", Tag: "1", Digest: d}, "example.com/a:1@" + d.String()},
		{layout.Ref{Repo: "example.com/a"}, "example.com/a"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
	if got := (layout.Ref{Repo: "docker.io/library/a", Tag: "1", Digest: d}).Familiar(); got != "a:1@"+d.String() {
		t.Errorf("Familiar() = %q", got)
	}
}

// FORMATS.md §8.3, the org.opencontainers.image.ref.name grammar.
func TestValidRefName(t *testing.T) {
	h := strings.Repeat("c", 64)
	valid := []string{
		"latest", "v1_0", "UPPER", "a--b", "sha256-" + h, "sha256-" + h + ".sig",
		"v1.0.0-rc.1+build", "v1+build", "docker.io/library/busybox:latest",
		"localhost:5000/foo:bar", "foo@sha256:" + h, "a/b",
	}
	invalid := []string{"_x", "a__b", "a---b", "tag.", "-x", ".x", "tag/", "[::1]:5000/foo:bar", "", "a b", "a//b"}
	for _, s := range valid {
		if !layout.ValidRefName(s) {
			t.Errorf("ValidRefName(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if layout.ValidRefName(s) {
			t.Errorf("ValidRefName(%q) = true, want false", s)
		}
	}
}
