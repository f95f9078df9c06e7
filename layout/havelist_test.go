package layout_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

func TestHaveListRoundTrip(t *testing.T) {
	h := &layout.HaveList{}
	a, b := digest.FromString("a"), digest.FromString("b")
	h.Add(b, 20)
	h.Add(a, 10)
	h.Images = []layout.HaveImage{{Name: "docker.io/library/x:1", Digest: a}, {Name: "docker.io/library/a@" + b.String(), Digest: b}}
	var buf bytes.Buffer
	if err := h.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if h.Digest != digest.FromBytes(buf.Bytes()) {
		t.Fatalf("Encode set digest %s, file hashes to %s", h.Digest, digest.FromBytes(buf.Bytes()))
	}
	got, err := layout.ReadHaveList(bytes.NewReader(buf.Bytes()), "t")
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if got.Digest != h.Digest || got.Blobs() != 2 || got.Bytes() != 30 || len(got.Images) != 2 {
		t.Fatalf("read back %+v", got)
	}
	if !got.Has(ocispec.Descriptor{Digest: a, Size: 10}) || got.Has(ocispec.Descriptor{Digest: a, Size: 11}) || got.Has(ocispec.Descriptor{Digest: digest.FromString("c"), Size: 1}) {
		t.Fatal("Has answers wrong")
	}
	var again bytes.Buffer
	if err := got.Encode(&again); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatalf("not canonical: %v\n%s\n%s", err, buf.Bytes(), again.Bytes())
	}
	if !strings.HasPrefix(buf.String(), `{"ferryHaveList":1,`) || strings.Count(buf.String(), "\n") != 7 {
		t.Errorf("not one entry a line:\n%s", buf.Bytes())
	}
}

func TestHaveListRefusesWhatIsNotOne(t *testing.T) {
	d := digest.FromString("a").String()
	blob := `{"digest":"` + d + `","size":1}`
	cases := map[string]string{
		"not an object":      `[]`,
		"version missing":    `{"blobs":[],"images":[]}`,
		"version not first":  `{"blobs":[],"ferryHaveList":1,"images":[]}`,
		"future version":     `{"ferryHaveList":2,"blobs":[],"images":[]}`,
		"unknown key":        `{"ferryHaveList":1,"blobs":[],"images":[],"hosts":[]}`,
		"key twice":          `{"ferryHaveList":1,"blobs":[],"blobs":[],"images":[]}`,
		"images missing":     `{"ferryHaveList":1,"blobs":[]}`,
		"bad digest":         `{"ferryHaveList":1,"blobs":[{"digest":"sha256:../../x","size":1}],"images":[]}`,
		"negative size":      `{"ferryHaveList":1,"blobs":[{"digest":"` + d + `","size":-1}],"images":[]}`,
		"two sizes":          `{"ferryHaveList":1,"blobs":[` + blob + `,{"digest":"` + d + `","size":2}],"images":[]}`,
		"unknown entry key":  `{"ferryHaveList":1,"blobs":[{"digest":"` + d + `","size":1,"path":"/etc"}],"images":[]}`,
		"case variant key":   `{"ferryHaveList":1,"blobs":[{"digest":"` + d + `","Size":1,"size":1}],"images":[]}`,
		"trailing data":      `{"ferryHaveList":1,"blobs":[],"images":[]} {}`,
		"image bad digest":   `{"ferryHaveList":1,"blobs":[],"images":[{"name":"docker.io/library/x:1","digest":"md5:x"}]}`,
		"image bad name":     `{"ferryHaveList":1,"blobs":[],"images":[{"name":"UPPER/Case:1","digest":"` + d + `"}]}`,
		"entry too large":    `{"ferryHaveList":1,"blobs":[],"images":[{"name":"docker.io/library/x:` + strings.Repeat("a", 5000) + `","digest":"` + d + `"}]}`,
		"truncated":          `{"ferryHaveList":1,"blobs":[` + blob,
		"blobs not an array": `{"ferryHaveList":1,"blobs":{},"images":[]}`,
	}
	for name, in := range cases {
		_, err := layout.ReadHaveList(strings.NewReader(in), "far.json")
		if err == nil {
			t.Errorf("%s: accepted %s", name, in)
			continue
		}
		if !strings.Contains(err.Error(), "far.json") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		if !errors.Is(err, layout.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := layout.ReadHaveList(strings.NewReader(`{"ferryHaveList":1,"blobs":[`+blob+`,`+blob+`],"images":[]}`+"\n\n"), "ok"); err != nil {
		t.Errorf("the same blob twice and trailing white space are harmless: %v", err)
	}
}

// FuzzReadHaveList: any input is refused or read; what is read encodes
// to a list that reads back to the same content.
func FuzzReadHaveList(f *testing.F) {
	d := digest.FromString("a").String()
	f.Add(`{"ferryHaveList":1,"blobs":[{"digest":"` + d + `","size":1}],"images":[{"name":"docker.io/library/x:1","digest":"` + d + `"}]}`)
	f.Add(`{"ferryHaveList":1,"blobs":[],"images":[]}`)
	f.Fuzz(func(t *testing.T, in string) {
		h, err := layout.ReadHaveList(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := h.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := layout.ReadHaveList(bytes.NewReader(buf.Bytes()), "again")
		if err != nil {
			t.Fatalf("canonical form of %q does not read back: %v\n%s", in, err, buf.Bytes())
		}
		if back.Blobs() != h.Blobs() || back.Bytes() != h.Bytes() {
			t.Fatalf("content changed: %d/%d blobs", back.Blobs(), h.Blobs())
		}
	})
}
