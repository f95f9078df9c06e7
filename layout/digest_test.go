package layout_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
)

var (
	hex64  = strings.Repeat("a", 64)
	hex128 = strings.Repeat("a", 128)
)

// FORMATS.md §8.2.
func TestValidateDigest(t *testing.T) {
	cases := []struct {
		d    string
		want error // nil: valid
	}{
		{"sha256:" + hex64, nil},
		{"sha512:" + hex128, nil},
		{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil},
		{"sha256:" + strings.Repeat("A", 64), layout.ErrInvalidDigest},
		{"SHA256:" + hex64, layout.ErrInvalidDigest},
		{"sha256:" + strings.Repeat("g", 64), layout.ErrInvalidDigest},
		{"sha256", layout.ErrInvalidDigest},
		{":", layout.ErrInvalidDigest},
		{"", layout.ErrInvalidDigest},
		{" sha256:" + hex64, layout.ErrInvalidDigest},
		{"sha256:", layout.ErrInvalidDigest},
		{"sha256:" + strings.Repeat(" ", 64), layout.ErrInvalidDigest},
		{"d41d8cd98f00b204e9800998ecf8427e", layout.ErrInvalidDigest},
		{"sha384__foo+bar:" + hex64, layout.ErrInvalidDigest},
		{"sha256:" + hex64[:63], layout.ErrInvalidDigest},
		{"sha256:" + hex64 + "a", layout.ErrInvalidDigest},
		{"sha512:" + hex64, layout.ErrInvalidDigest},
		{"sha256:" + hex64 + "\n", layout.ErrInvalidDigest},
		{"sha256:../../../../etc/passwd", layout.ErrInvalidDigest},
		{"sha256:../../x", layout.ErrInvalidDigest},
		{"sha256:abcdef0123456789", layout.ErrInvalidDigest},
		{"blake3:" + hex64, layout.ErrUnsupportedDigest},
		{"foo:" + hex64[:32], layout.ErrUnsupportedDigest},
		{"md5:" + hex64[:32], layout.ErrUnsupportedDigest},
		{"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", layout.ErrUnsupportedDigest},
	}
	for _, tc := range cases {
		err := layout.ValidateDigest(digest.Digest(tc.d))
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("ValidateDigest(%q) = %v, want nil", tc.d, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("ValidateDigest(%q) = %v, want %v", tc.d, err, tc.want)
		}
		if tc.want != nil {
			if p, err := layout.BlobPath(digest.Digest(tc.d)); err == nil {
				t.Errorf("BlobPath(%q) = %q, want an error", tc.d, p)
			}
		}
	}
}

func TestBlobPathRoundTrip(t *testing.T) {
	for _, d := range []digest.Digest{digest.Digest("sha256:" + hex64), digest.Digest("sha512:" + hex128)} {
		p, err := layout.BlobPath(d)
		if err != nil {
			t.Fatal(err)
		}
		if want := "blobs/" + d.Algorithm().String() + "/" + d.Encoded(); p != want {
			t.Errorf("BlobPath(%s) = %q, want %q", d, p, want)
		}
		back, ok, err := layout.DigestFromPath(p)
		if !ok || err != nil || back != d {
			t.Errorf("DigestFromPath(%q) = %s, %v, %v", p, back, ok, err)
		}
	}
}

func TestDigestFromPath(t *testing.T) {
	cases := []struct {
		path    string
		ok, bad bool
	}{
		{"blobs/sha256/" + hex64, true, false},
		{"./blobs/sha256/" + hex64, true, false},
		{"blobs/sha256/" + strings.ToUpper(hex64), true, true},
		{"blobs/sha256/short", true, true},
		{"blobs/md5/" + hex64[:32], true, true},
		{"index.json", false, false},
		{"blobs/" + hex64, false, false},
		{"x/blobs/sha256/" + hex64, false, false},
		{"blobs/sha256/sub/" + hex64, false, false},
		{"blobs/sha256/../../x", false, false},
		{"blobs/sha256/", false, false},
	}
	for _, tc := range cases {
		_, ok, err := layout.DigestFromPath(tc.path)
		if ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("DigestFromPath(%q) ok=%v err=%v; want ok=%v bad=%v", tc.path, ok, err, tc.ok, tc.bad)
		}
	}
}
