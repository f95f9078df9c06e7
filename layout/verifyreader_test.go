package layout_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func descOf(b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func newVR(t *testing.T, r io.Reader, d ocispec.Descriptor) *layout.VerifyReader {
	t.Helper()
	vr, err := layout.NewVerifyReader(r, d)
	if err != nil {
		t.Fatalf("NewVerifyReader: %v", err)
	}
	return vr
}

func TestVerifyReaderGood(t *testing.T) {
	content := bytes.Repeat([]byte("ferry "), 5000)
	d := descOf(content)
	readers := map[string]func() io.Reader{
		"plain":     func() io.Reader { return bytes.NewReader(content) },
		"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(content)) },
		"data+EOF":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(content)) },
		"half read": func() io.Reader { return iotest.HalfReader(bytes.NewReader(content)) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			vr := newVR(t, mk(), d)
			if vr.Verified() {
				t.Fatal("Verified before anything was read")
			}
			got, err := io.ReadAll(vr)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, content) || !vr.Verified() {
				t.Fatalf("got %d bytes, verified=%v", len(got), vr.Verified())
			}
			// The end is sticky: further reads keep reporting EOF.
			if n, err := vr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Fatalf("Read after EOF = %d, %v", n, err)
			}
		})
	}
}

func TestVerifyReaderBad(t *testing.T) {
	content := []byte("hello, air gap")
	d := descOf(content)
	other := descOf([]byte("HELLO, air gap"))
	cases := []struct {
		name string
		r    io.Reader
		d    ocispec.Descriptor
		want error
	}{
		{"short", strings.NewReader("hello"), d, layout.ErrSizeMismatch},
		{"long", strings.NewReader(string(content) + "!"), d, layout.ErrSizeMismatch},
		{"empty", strings.NewReader(""), d, layout.ErrSizeMismatch},
		{"wrong digest", bytes.NewReader(content), other, layout.ErrDigestMismatch},
		{"size one less", bytes.NewReader(content), ocispec.Descriptor{Digest: d.Digest, Size: d.Size - 1}, layout.ErrSizeMismatch},
		{"reader error", iotest.ErrReader(iotest.ErrTimeout), d, iotest.ErrTimeout},
		{"error mid-way", io.MultiReader(strings.NewReader("hel"), iotest.ErrReader(iotest.ErrTimeout)), d, iotest.ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vr := newVR(t, tc.r, tc.d)
			_, err := io.ReadAll(vr)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadAll: %v, want errors.Is %v", err, tc.want)
			}
			if vr.Verified() {
				t.Fatal("Verified() after a failed read")
			}
			if _, err2 := vr.Read(make([]byte, 8)); !errors.Is(err2, tc.want) {
				t.Fatalf("error is not sticky: second Read returned %v", err2)
			}
			if err := vr.Drain(); err == nil {
				t.Fatal("Drain returned nil for bad content")
			}
		})
	}
}

func TestVerifyReaderMismatchError(t *testing.T) {
	got := []byte("actual")
	want := descOf([]byte("wanted"))
	want.Size = int64(len(got))
	_, err := io.ReadAll(newVR(t, bytes.NewReader(got), want))
	var me *layout.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("error %v is not a *MismatchError", err)
	}
	if me.Want != want.Digest || me.Got != digest.FromBytes(got) {
		t.Fatalf("MismatchError{Want: %s, Got: %s}", me.Want, me.Got)
	}
	if !strings.Contains(err.Error(), string(want.Digest)) || !strings.Contains(err.Error(), string(me.Got)) {
		t.Fatalf("message %q does not name both digests", err)
	}
}

// countingReader counts the bytes taken from an endless source.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += int64(len(p))
	return len(p), nil
}

// A hostile source that never ends must be cut off one byte past the size.
func TestVerifyReaderStopsAtSizePlusOne(t *testing.T) {
	src := &countingReader{}
	d := descOf(bytes.Repeat([]byte("x"), 1000))
	_, err := io.ReadAll(newVR(t, src, d))
	if !errors.Is(err, layout.ErrSizeMismatch) {
		t.Fatalf("ReadAll: %v, want ErrSizeMismatch", err)
	}
	if src.n != d.Size+1 {
		t.Fatalf("read %d bytes from the source, want %d", src.n, d.Size+1)
	}
}

func TestNewVerifyReaderRefuses(t *testing.T) {
	for name, d := range map[string]ocispec.Descriptor{
		"negative size":  {Digest: digest.FromString(""), Size: -1},
		"traversal":      {Digest: "sha256:../../x", Size: 1},
		"uppercase hex":  {Digest: digest.Digest("sha256:" + strings.Repeat("A", 64)), Size: 1},
		"unsupported":    {Digest: digest.Digest("md5:" + strings.Repeat("a", 32)), Size: 1},
		"empty":          {Size: 0},
		"trailing space": {Digest: digest.FromString("") + " ", Size: 0},
	} {
		if _, err := layout.NewVerifyReader(strings.NewReader(""), d); err == nil {
			t.Errorf("%s: NewVerifyReader accepted %q size %d", name, d.Digest, d.Size)
		}
	}
}

func TestNewVerifyReaderReuse(t *testing.T) {
	content := []byte("layer")
	d := descOf(content)
	vr := newVR(t, bytes.NewReader(content), d)
	if again := newVR(t, vr, d); again != vr {
		t.Fatal("wrapping a VerifyReader for the same descriptor made a new one (hashes twice)")
	}
	other := d
	other.Size++
	if again := newVR(t, vr, other); again == vr {
		t.Fatal("a VerifyReader for another descriptor was reused")
	}
	if err := vr.Drain(); err != nil || !vr.Verified() {
		t.Fatalf("Drain: %v, verified %v", err, vr.Verified())
	}
}

func TestVerifyReaderZeroSize(t *testing.T) {
	vr := newVR(t, strings.NewReader(""), descOf(nil))
	if err := vr.Drain(); err != nil || !vr.Verified() {
		t.Fatalf("empty blob: Drain %v, verified %v", err, vr.Verified())
	}
	vr = newVR(t, strings.NewReader("x"), descOf(nil))
	if err := vr.Drain(); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Fatalf("one byte for an empty blob: %v", err)
	}
}

// io.Reader allows len(p) == 0; such a call must not end the stream.
func TestVerifyReaderEmptyRead(t *testing.T) {
	content := []byte("hello")
	vr := newVR(t, bytes.NewReader(content), descOf(content))
	if n, err := vr.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	if got, err := io.ReadAll(vr); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadAll after Read(nil) = %q, %v", got, err)
	}
	// iotest.TestReader reads in many sizes, including empty ones.
	long := bytes.Repeat([]byte("0123456789"), 300)
	if err := iotest.TestReader(newVR(t, bytes.NewReader(long), descOf(long)), long); err != nil {
		t.Fatal(err)
	}
}
