package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// volSize cuts the big layer of bigLayout into several chunks and keeps
// the small images whole.
const volSize = 96 << 10

// bigLayout is a layout of three images with incompressible layers of
// 300 KiB, 40 KiB and 2 KiB: one must be cut into chunks across volumes.
func bigLayout(t *testing.T) (*archive.Source, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	rnd := rand.New(rand.NewSource(1))
	var ims []layout.Image
	for i, size := range []int{300 << 10, 40 << 10, 2 << 10} {
		b := make([]byte, size)
		rnd.Read(b)
		im := testimage.Build(t, txn, "amd64", string(b))
		r, _ := layout.ParseRef([]string{"example.com/big:1", "example.com/mid:1", "example.com/small:1"}[i])
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(im.Manifest, r)})
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	d.Close()
	return open(t, dir), dir
}

func writeSet(t *testing.T, src *archive.Source, dir, name string, size int64) *archive.Result {
	t.Helper()
	res, err := archive.Write(context.Background(), src, src.Images, filepath.Join(dir, name), archive.WriteOptions{VolumeSize: size})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestVolumeSetRoundTrip: a set is volumes of at most the size, each a
// tar of its own that starts with its index; it opens from its directory
// or its first volume, verifies, and imports to the very layout a single
// archive of the same images imports to.
func TestVolumeSetRoundTrip(t *testing.T) {
	for _, name := range []string{"set.tar", "set.tar.zst", "set.tar.gz"} {
		t.Run(name, func(t *testing.T) { roundTrip(t, name) })
	}
}

func roundTrip(t *testing.T, name string) {
	src, _ := bigLayout(t)
	out := t.TempDir()
	res := writeSet(t, src, out, name, volSize)
	if len(res.Volumes) < 4 {
		t.Fatalf("want the 300 KiB layer cut over several %d KiB volumes, got %v", volSize>>10, res.Volumes)
	}
	for i, v := range res.Volumes {
		fi, err := os.Stat(v)
		if err != nil || fi.Size() > volSize {
			t.Fatalf("%s: %v, size %d > %d", v, err, fi.Size(), volSize)
		}
		f, _ := os.Open(v)
		var r io.Reader = f
		switch {
		case strings.HasSuffix(v, ".zst"):
			zr, _ := zstd.NewReader(f)
			defer zr.Close()
			r = zr
		case strings.HasSuffix(v, ".gz"):
			r, _ = gzip.NewReader(f)
		}
		tr := tar.NewReader(r)
		h, err := tr.Next()
		if err != nil || h.Name != "ferry-volume.json" {
			t.Fatalf("volume %d: first entry %v, %v", i+1, h, err)
		}
		for err == nil {
			_, err = tr.Next()
		}
		f.Close()
		if err != io.EOF {
			t.Fatalf("volume %d is not a valid tar on its own: %v", i+1, err)
		}
	}
	single := filepath.Join(t.TempDir(), "one.tar")
	if _, err := archive.Write(context.Background(), src, src.Images, single, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := t.TempDir()
	if _, err := archive.Import(context.Background(), single, want, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{out, res.Volumes[0], res.Volumes[2]} {
		s := open(t, from)
		if len(s.Images) != 3 {
			t.Fatalf("%s: %d images", from, len(s.Images))
		}
		rep := verify.Check(context.Background(), s, s.Images, &verify.Report{Path: from}, verify.Options{})
		if !rep.OK {
			t.Fatalf("verify %s: %+v", from, rep.Problems)
		}
		got := filepath.Join(t.TempDir(), "l")
		if _, err := archive.Import(context.Background(), from, got, archive.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		a, b := tree(t, want), tree(t, got)
		if len(a) != len(b) {
			t.Fatalf("import of %s holds %d files, of the single archive %d", from, len(b), len(a))
		}
		for k, v := range a {
			if b[k] != v {
				t.Fatalf("import of %s: %s differs from the single archive's import", from, k)
			}
		}
	}
	// Written again, the set is the same bytes: the set id comes from the
	// content, so two exports of the same images interchange.
	again := writeSet(t, src, t.TempDir(), name, volSize)
	for i := range res.Volumes {
		a, _ := os.ReadFile(res.Volumes[i])
		b, _ := os.ReadFile(again.Volumes[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("volume %d differs between two exports", i+1)
		}
	}
}

// TestVolumeSetOfOneIsTodaysArchive: when everything fits, the one volume
// is the single archive byte for byte.
func TestVolumeSetOfOneIsTodaysArchive(t *testing.T) {
	src, _ := bigLayout(t)
	for _, name := range []string{"a.tar", "a.tar.zst"} {
		dir := t.TempDir()
		res := writeSet(t, src, dir, name, 10<<20)
		if len(res.Volumes) != 1 || filepath.Base(res.Volumes[0]) != strings.Replace(name, "a.", "a.001.", 1) {
			t.Fatalf("volumes %v", res.Volumes)
		}
		if _, err := archive.Write(context.Background(), src, src.Images, filepath.Join(dir, name), archive.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(res.Volumes[0])
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the set of one differs from the single archive", name)
		}
	}
}

// TestCompressedVolumesFit: compressed volumes are planned so that the
// compressed file fits, incompressible content included.
func TestCompressedVolumesFit(t *testing.T) {
	src, _ := bigLayout(t)
	for _, name := range []string{"c.tar.zst", "c.tar.gz"} {
		res := writeSet(t, src, t.TempDir(), name, volSize)
		if len(res.Volumes) < 4 || !strings.HasSuffix(res.Volumes[1], ".002"+strings.TrimPrefix(name, "c")) {
			t.Fatalf("%s: volumes %v", name, res.Volumes)
		}
		for _, v := range res.Volumes {
			if fi, _ := os.Stat(v); fi.Size() > volSize {
				t.Fatalf("%s: %d bytes, over %d", v, fi.Size(), volSize)
			}
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// chunkVolume is the first volume that holds a chunk, and where its data
// starts.
func chunkVolume(t *testing.T, res *archive.Result) (string, int64) {
	t.Helper()
	for _, v := range res.Volumes {
		f, _ := os.Open(v)
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasPrefix(h.Name, "ferry-chunks/") {
				pos, _ := f.Seek(0, io.SeekCurrent)
				f.Close()
				// archive/tar reads headers in 512-byte blocks; the data
				// is what follows the header just read.
				return v, pos
			}
		}
		f.Close()
	}
	t.Fatal("no chunk in the set")
	return "", 0
}

// TestVolumeSetBadInput: each way a set goes wrong is refused with the
// file, the volume and the set named, and an import writes nothing, both
// where the set is read in place and where it is streamed.
func TestVolumeSetBadInput(t *testing.T) {
	for _, ext := range []string{".tar", ".tar.zst"} {
		t.Run(ext, func(t *testing.T) { badInput(t, ext) })
	}
}

func badInput(t *testing.T, ext string) {
	src, _ := bigLayout(t)
	other, _ := bigLayout(t)
	otherRes := writeSet(t, other, t.TempDir(), "set"+ext, volSize-4096)
	cases := []struct {
		name  string
		spoil func(t *testing.T, res *archive.Result)
		want  []string
	}{
		{"missing", func(t *testing.T, res *archive.Result) { os.Remove(res.Volumes[2]) },
			[]string{"incomplete", "missing volume 3", "set.003" + ext}},
		{"two sets", func(t *testing.T, res *archive.Result) {
			os.Remove(res.Volumes[1])
			copyFile(t, otherRes.Volumes[1], res.Volumes[1])
		}, []string{"set.002" + ext, "different sets"}},
		{"twice", func(t *testing.T, res *archive.Result) {
			copyFile(t, res.Volumes[1], filepath.Join(filepath.Dir(res.Volumes[1]), "copy of set.002"+ext))
		}, []string{"volume 2 of set", "twice", "copy of set.002" + ext}},
		{"truncated", func(t *testing.T, res *archive.Result) {
			fi, _ := os.Stat(res.Volumes[1])
			os.Truncate(res.Volumes[1], fi.Size()/2)
		}, []string{"set.002" + ext, "truncated"}},
		{"cut at the end", func(t *testing.T, res *archive.Result) {
			fi, _ := os.Stat(res.Volumes[1])
			os.Truncate(res.Volumes[1], fi.Size()-700)
		}, []string{"set.002" + ext, "truncated"}},
	}
	if ext == ".tar" {
		cases = append(cases, struct {
			name  string
			spoil func(t *testing.T, res *archive.Result)
			want  []string
		}{"chunk corrupt", corruptChunk, []string{"is corrupt (copy that volume again)", "chunk 1 of blobs/sha256/", "volume ", "example.com/big:1"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			res := writeSet(t, src, out, "set"+ext, volSize)
			c.spoil(t, res)
			dest := filepath.Join(t.TempDir(), "l")
			_, err := archive.Import(context.Background(), out, dest, archive.ImportOptions{})
			if err == nil {
				t.Fatal("import accepted a spoiled set")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, serr := os.Stat(dest); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("a failed import left %s behind", dest)
			}
		})
	}
}

func corruptChunk(t *testing.T, res *archive.Result) {
	v, off := chunkVolume(t, res)
	f, _ := os.OpenFile(v, os.O_RDWR, 0)
	f.WriteAt([]byte("X"), off+100)
	f.Close()
}

// feeder plays a person at one drive: the drive shows one volume at a
// time, and each prompt puts in the volume asked for.
func feeder(t *testing.T, res *archive.Result) (string, archive.VolumePrompt, *[]int) {
	drive := t.TempDir()
	put := func(n int) {
		des, _ := os.ReadDir(drive)
		for _, de := range des {
			os.Remove(filepath.Join(drive, de.Name()))
		}
		copyFile(t, res.Volumes[n-1], filepath.Join(drive, filepath.Base(res.Volumes[n-1])))
	}
	put(1)
	var asked []int
	return drive, func(_ context.Context, n, m int, want string) error {
		if m != len(res.Volumes) || want != filepath.Base(res.Volumes[n-1]) {
			t.Errorf("asked for volume %d of %d as %s", n, m, want)
		}
		asked = append(asked, n)
		put(n)
		return nil
	}, &asked
}

// TestVolumeSetFedOneAtATime: with only the first volume present, the set
// is streamed and every other volume asked for in turn; the import is the
// one a complete set gives, and a corrupt chunk on a disc is named.
func TestVolumeSetFedOneAtATime(t *testing.T) {
	src, _ := bigLayout(t)
	res := writeSet(t, src, t.TempDir(), "set.tar", volSize)
	drive, prompt, asked := feeder(t, res)
	want := filepath.Join(t.TempDir(), "want")
	if _, err := archive.Import(context.Background(), filepath.Dir(res.Volumes[0]), want, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(t.TempDir(), "got")
	ir, err := archive.Import(context.Background(), filepath.Join(drive, "set.001.tar"), got, archive.ImportOptions{Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ir.Mode, "streamed") || len(*asked) != len(res.Volumes)-1 || (*asked)[0] != 2 {
		t.Fatalf("mode %q, asked for %v", ir.Mode, *asked)
	}
	a, b := tree(t, want), tree(t, got)
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s differs", k)
		}
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, want %d", len(b), len(a))
	}

	corruptChunk(t, res)
	drive, prompt, _ = feeder(t, res)
	dest := filepath.Join(t.TempDir(), "bad")
	_, err = archive.Import(context.Background(), drive, dest, archive.ImportOptions{Prompt: prompt})
	if err == nil || !strings.Contains(err.Error(), "is corrupt (copy that volume again)") || !strings.Contains(err.Error(), "set.00") {
		t.Fatalf("corrupt chunk fed from a drive: %v", err)
	}
	if _, serr := os.Stat(dest); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("a failed import left %s behind", dest)
	}
}

// TestVolumeSetVerifyNamesTheVolume: a whole blob spoiled in a streamed
// set is reported by verify against the volume that holds it.
func TestVolumeSetVerifyNamesTheVolume(t *testing.T) {
	src, _ := bigLayout(t)
	res := writeSet(t, src, t.TempDir(), "set.tar", volSize)
	// The last volume holds the small layers whole, after the big one's
	// last chunk.
	last := res.Volumes[len(res.Volumes)-1]
	f, _ := os.Open(last)
	tr := tar.NewReader(f)
	var off int64
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal("no whole blob in the last volume")
		}
		if strings.HasPrefix(h.Name, "blobs/") && h.Size > 1000 {
			off, _ = f.Seek(0, io.SeekCurrent)
			break
		}
	}
	f.Close()
	g, _ := os.OpenFile(last, os.O_RDWR, 0)
	g.WriteAt([]byte("X"), off+10)
	g.Close()
	drive, prompt, _ := feeder(t, res)
	s, err := archive.Open(context.Background(), drive, archive.OpenOptions{Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	probs := s.Problems()
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), filepath.Base(last)+" (volume ") {
		t.Fatalf("problems %v do not name %s", probs, last)
	}
}

// fetchCounter counts the reads of each blob.
type fetchCounter struct {
	layout.ReadOnly
	n map[string]int
}

func (c *fetchCounter) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if d.Size > 200<<10 { // the one layer cut into chunks
		c.n[d.Digest.String()]++
	}
	return c.ReadOnly.Fetch(ctx, d)
}

// TestPlainVolumesReadEachBlobOnce: a plain set completes its indexes in
// place, so a blob cut into chunks is read once (from a registry, fetched
// once); a compressed set must hash it first.
func TestPlainVolumesReadEachBlobOnce(t *testing.T) {
	src, _ := bigLayout(t)
	for name, want := range map[string]int{"p.tar": 1, "p.tar.zst": 2} {
		c := &fetchCounter{ReadOnly: src, n: map[string]int{}}
		res, err := archive.Write(context.Background(), c, src.Images, filepath.Join(t.TempDir(), name), archive.WriteOptions{VolumeSize: volSize})
		if err != nil {
			t.Fatal(err)
		}
		most := 0
		for _, n := range c.n {
			most = max(most, n)
		}
		if most != want || len(res.Volumes) < 4 {
			t.Fatalf("%s: the cut blob was read %d times, want %d", name, most, want)
		}
		s := open(t, res.Volumes[0])
		if rep := verify.Check(context.Background(), s, s.Images, &verify.Report{}, verify.Options{}); !rep.OK {
			t.Fatalf("%s: %+v", name, rep.Problems)
		}
	}
}

// retar rewrites a volume: edit changes its index's text, and extra, if
// set, is one more entry at its end.
func retar(t *testing.T, path string, edit func(string) string, extra string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(f)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == "ferry-volume.json" {
			body = []byte(edit(string(body)))
			h.Size = int64(len(body))
		}
		tw.WriteHeader(h)
		tw.Write(body)
	}
	if extra != "" {
		tw.WriteHeader(&tar.Header{Name: extra, Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	f.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVolumeIndexLies: a volume whose index and content disagree, or
// whose chunks do not join up, is refused, read in place or streamed.
func TestVolumeIndexLies(t *testing.T) {
	src, _ := bigLayout(t)
	cases := []struct {
		name  string
		spoil func(t *testing.T, vols []string)
		want  string
	}{
		{"entry not in the index", func(t *testing.T, vols []string) {
			retar(t, vols[1], func(s string) string { return s }, "blobs/sha256/"+strings.Repeat("a", 64))
		}, "is not in the volume's index"},
		{"index lists more", func(t *testing.T, vols []string) {
			retar(t, vols[1], func(s string) string {
				return strings.Replace(s, `"entries":[`, `"entries":[`+"\n  "+`{"name":"blobs/sha256/`+strings.Repeat("b", 64)+`","size":1},`, 1)
			}, "")
		}, "listed in its index, is missing|where its index lists"},
		{"chunk offset", func(t *testing.T, vols []string) {
			retar(t, vols[1], func(s string) string {
				i := strings.Index(s, `"offset":`)
				j := i + strings.IndexByte(s[i:], ',')
				return s[:i] + `"offset":512` + s[j:]
			}, "")
		}, "starts at 512"},
	}
	for _, c := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", c.name, stream), func(t *testing.T) {
				res := writeSet(t, src, t.TempDir(), "set.tar", volSize)
				c.spoil(t, res.Volumes)
				_, err := archive.Open(context.Background(), res.Volumes[0], archive.OpenOptions{Stream: stream})
				if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) || !strings.Contains(err.Error(), "set.002.tar (volume 2 of") {
					t.Fatalf("got %v, want %q naming set.002.tar", err, c.want)
				}
			})
		}
	}
}
