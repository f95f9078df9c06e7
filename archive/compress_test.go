package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/oci-ferry/ferry/internal/fixtures"
)

func ferryArchive(t *testing.T) []byte {
	t.Helper()
	fx, err := fixtures.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fx {
		if f.Name == "ferry-archive" {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no ferry-archive fixture")
	return nil
}

// zstdStream compresses b as klauspost's streaming writer does, with the
// given window in the frame header (as zstd --long=N writes 2^N): the
// Flush before the end keeps it from writing a single segment.
func zstdStream(t *testing.T, b []byte, window int) []byte {
	t.Helper()
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithWindowSize(window), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(b[:len(b)/2])
	enc.Flush()
	enc.Write(b[len(b)/2:])
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func frameWindow(t *testing.T, z []byte) (uint64, bool) {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(z); err != nil {
		t.Fatal(err)
	}
	if h.SingleSegment {
		return h.FrameContentSize, true
	}
	return h.WindowSize, false
}

// A valid archive compressed with a 128 MiB window (zstd --long=27, the
// hostile tester's case) opens, as a streamed frame and as a single
// segment of more than the old 64 MiB cap. Before, both failed with
// "decompressed size exceeds configured limit (is the archive truncated or
// not a tar?)".
func TestZstdLongWindowOpens(t *testing.T) {
	ctx := context.Background()
	a := ferryArchive(t)
	stream := zstdStream(t, a, 128<<20)
	if w, single := frameWindow(t, stream); w != 128<<20 || single {
		t.Fatalf("window %d, single segment %v", w, single)
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithWindowSize(128<<20), zstd.WithEncoderConcurrency(1))
	whole := enc.EncodeAll(append(a, make([]byte, 80<<20)...), nil) // zeros after the tar's end are ignored
	enc.Close()
	if w, single := frameWindow(t, whole); w <= 64<<20 || !single {
		t.Fatalf("window %d, single segment %v", w, single)
	}
	for name, z := range map[string][]byte{"stream": stream, "single segment": whole} {
		src, err := openStream(ctx, bytes.NewReader(z), "a.tar.zst", OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(src.Images) != 1 {
			t.Fatalf("%s: %d images", name, len(src.Images))
		}
		src.Close()
	}
}

// Beyond 128 MiB the stream is refused with what it needs and what to do,
// whether the first frame asks for it or a later one does, and never with
// a guess that the archive is truncated.
func TestZstdWindowOverCapSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	a := ferryArchive(t)
	half := len(a) / 2
	big := zstdStream(t, a[half:], 256<<20)
	later := append(zstdStream(t, a[:half], 1<<20), big...)
	for _, c := range []struct {
		name, z, need string
	}{
		{"first frame", string(big), "needs 256 MiB"},
		{"later frame", string(later), "needs more than 128 MiB"},
	} {
		_, err := openStream(ctx, strings.NewReader(c.z), "a.tar.zst", OpenOptions{})
		var we *windowError
		if !errors.As(err, &we) {
			t.Fatalf("%s: %v", c.name, err)
		}
		msg := err.Error()
		for _, want := range []string{"a.tar.zst", c.need, "zstd --long=27", "zstd -d --long=31"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not say %q", c.name, msg, want)
			}
		}
		if strings.Contains(msg, "truncated") {
			t.Errorf("%s: %q guesses truncation", c.name, msg)
		}
	}
}
