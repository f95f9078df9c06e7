package archive_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
)

// countingSource counts the blob bytes read from a source.
type countingSource struct {
	layout.ReadOnly
	n atomic.Int64
}

func (c *countingSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.ReadOnly.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.TeeReader(rc, writerFunc(func(b []byte) (int, error) { c.n.Add(int64(len(b))); return len(b), nil })), rc}, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestResumeFromAnyCut puts what a killed write would leave (the first n
// bytes of the archive, at many n) beside the destination as a dead
// writer's temp file, for a plain, a gzip and a zstd archive and for a
// zstd and a plain volume set, and writes again. The result must be the
// uninterrupted archive byte for byte; what the write says it kept it
// must not read from the source again; what it keeps only grows with n;
// and a temp holding the whole archive is kept whole. A temp with a byte
// flipped inside a blob gives the right archive too: that blob and what
// follows it are not kept.
func TestResumeFromAnyCut(t *testing.T) {
	src := resumeLayout(t)
	for _, c := range []struct {
		name string
		vol  int64
	}{{"a.tar", 0}, {"a.tar.gz", 0}, {"a.tar.zst", 0}, {"a.tar.zst", 700 << 10}, {"a.tar", 600 << 10}} {
		t.Run(c.name+"/"+itoa(c.vol), func(t *testing.T) {
			d := layout.NewFS(os.DirFS(src), src)
			ims, err := d.Images()
			if err != nil {
				t.Fatal(err)
			}
			refDir := t.TempDir()
			opts := archive.WriteOptions{VolumeSize: c.vol}
			res, err := archive.Write(context.Background(), d, ims, filepath.Join(refDir, c.name), opts)
			if err != nil {
				t.Fatal(err)
			}
			files := res.Volumes
			if len(files) == 0 {
				files = []string{res.Path}
			}
			var all []byte // the files one after the other, in order
			var sizes []int
			for _, f := range files {
				b, _ := os.ReadFile(f)
				all = append(all, b...)
				sizes = append(sizes, len(b))
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(all))))
			cuts := []int{len(all)}
			for range 12 {
				cuts = append(cuts, rng.IntN(len(all)))
			}
			last, planned := int64(-1), int64(0)
			for i, n := range append(cuts, -1) {
				dir := t.TempDir()
				flip := n < 0
				if flip {
					n = len(all) * 2 / 3
				}
				leave(t, dir, files, sizes, all[:n], flip)
				cs := &countingSource{ReadOnly: d}
				got, err := archive.Write(context.Background(), cs, ims, filepath.Join(dir, c.name), opts)
				if err != nil {
					t.Fatalf("cut at %d: %v", n, err)
				}
				for _, f := range files {
					want, _ := os.ReadFile(f)
					have, _ := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
					if !bytes.Equal(want, have) {
						t.Fatalf("cut at %d (flipped: %v): %s differs from the uninterrupted write's", n, flip, filepath.Base(f))
					}
				}
				var kept int64
				if got.Kept != nil {
					kept = got.Kept.Bytes
				}
				if i == 0 {
					// Planning reads the manifests and configs whatever
					// is kept; the rest is the blobs not kept.
					planned = cs.n.Load()
					if kept != res.Size {
						t.Fatalf("a temp holding the whole archive: kept %d of %d bytes", kept, res.Size)
					}
				}
				// A compressed set hashes the chunks of a split blob before
				// it writes them (its volume's index comes first): such a
				// blob, if not kept, is read twice, as in any write.
				twice := c.vol > 0 && c.name != "a.tar"
				if full := res.Size; !twice && cs.n.Load() != planned+full-kept || twice && cs.n.Load() > planned+2*(full-kept) {
					t.Fatalf("cut at %d: read %d bytes from the source, kept %d of %d (planning reads %d)", n, cs.n.Load(), kept, full, planned)
				}
				if i > 0 && !flip {
					if n >= len(all)/2 && kept == 0 {
						t.Fatalf("cut at %d of %d: nothing kept", n, len(all))
					}
					last = max(last, kept)
				}
			}
			if last <= 0 {
				t.Fatal("no cut kept anything: the test proves little")
			}
		})
	}
}

// leave writes the first bytes of a set of files as the temp files a
// killed write leaves (".NAME.tmp-" and 16 hex digits), one per file it
// reached; flip corrupts a byte in the middle of the last one.
func leave(t *testing.T, dir string, files []string, sizes []int, b []byte, flip bool) {
	for i, f := range files {
		if len(b) == 0 {
			return
		}
		n := min(sizes[i], len(b))
		part := bytes.Clone(b[:n])
		b = b[n:]
		if flip && len(b) == 0 {
			part[len(part)/2] ^= 0x40
		}
		if err := os.WriteFile(filepath.Join(dir, "."+filepath.Base(f)+".tmp-0123456789abcdef"), part, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(n int64) string { return string(rune('0'+n/(100<<10)%10)) + "00K" }

// resumeLayout is a layout of the three images of four layers each that
// the import resume test uses, a few MiB.
func resumeLayout(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "src.tar")
	resumeSource(t, p)
	dir := filepath.Join(t.TempDir(), "src")
	if _, err := archive.Import(context.Background(), p, dir, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}
