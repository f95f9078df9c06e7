package layout_test

import (
	"reflect"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatforms(t *testing.T) {
	p := func(os, arch, variant string) ocispec.Platform {
		return ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	}
	cases := []struct {
		in   string
		want []ocispec.Platform
	}{
		{"", nil},
		{" , ", nil},
		{"linux/amd64", []ocispec.Platform{p("linux", "amd64", "")}},
		{"linux/amd64,linux/arm64/v8", []ocispec.Platform{p("linux", "amd64", ""), p("linux", "arm64", "")}},
		{" Linux/ARM/v7 ", []ocispec.Platform{p("linux", "arm", "v7")}},
		{"linux/x86_64", []ocispec.Platform{p("linux", "amd64", "")}},
		{"linux/x86-64", []ocispec.Platform{p("linux", "amd64", "")}},
		{"linux/aarch64", []ocispec.Platform{p("linux", "arm64", "")}},
		{"linux/armhf", []ocispec.Platform{p("linux", "arm", "v7")}},
		{"linux/armel", []ocispec.Platform{p("linux", "arm", "v6")}},
		{"windows/amd64,", []ocispec.Platform{p("windows", "amd64", "")}},
	}
	for _, tc := range cases {
		got, err := layout.ParsePlatforms(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePlatforms(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux/amd64,arm64", "amd64"} {
		if got, err := layout.ParsePlatforms(in); err == nil {
			t.Errorf("ParsePlatforms(%q) = %+v, want an error", in, got)
		}
	}
}

func TestMatchPlatform(t *testing.T) {
	want := func(s string) []ocispec.Platform {
		ps, err := layout.ParsePlatforms(s)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	have := func(os, arch, variant string) *ocispec.Platform {
		return &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	}
	cases := []struct {
		want string
		have *ocispec.Platform
		ok   bool
	}{
		{"", have("linux", "s390x", ""), true}, // no filter keeps everything
		{"linux/amd64", nil, true},             // entries without a platform are kept
		{"linux/amd64", have("linux", "amd64", ""), true},
		{"linux/amd64", have("linux", "x86_64", ""), true},
		{"linux/amd64", have("linux", "arm64", ""), false},
		{"linux/amd64", have("windows", "amd64", ""), false},
		{"linux/arm64", have("linux", "arm64", "v8"), true},
		{"linux/arm64/v8", have("linux", "arm64", ""), true},
		{"linux/aarch64", have("linux", "arm64", ""), true},
		{"linux/arm", have("linux", "arm", "v6"), true}, // no variant asked: any
		{"linux/arm/v7", have("linux", "arm", "v6"), false},
		{"linux/arm/v7", have("linux", "arm", "v7"), true},
		{"linux/armhf", have("linux", "arm", "v7"), true},
		{"linux/amd64,linux/arm64", have("linux", "arm64", ""), true},
		{"linux/amd64", have("unknown", "unknown", ""), false},
	}
	for _, tc := range cases {
		if got := layout.MatchPlatform(want(tc.want), tc.have); got != tc.ok {
			t.Errorf("MatchPlatform(%q, %s) = %v, want %v", tc.want, layout.PlatformString(tc.have), got, tc.ok)
		}
	}
}

func TestPlatformString(t *testing.T) {
	for _, tc := range []struct {
		p    *ocispec.Platform
		want string
	}{
		{nil, ""},
		{&ocispec.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{&ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
	} {
		if got := layout.PlatformString(tc.p); got != tc.want {
			t.Errorf("PlatformString(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
