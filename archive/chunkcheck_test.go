package archive

// A split blob's chunks are each checked by digest, so a bad copy names
// its volume; the first is checked against the blob's own running hash
// where that hash is of the chunks' algorithm (VerifyReader.SoFar,
// layout.PrefixHashed). These tests spoil, reorder and misread chunks on
// both sides, the write (the index's digests) and the read (in place and
// streamed), for sha256 and sha512 blobs.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

// ---------------------------------------------------------------- helpers

// revLayout is a layout with one image per layer size; the layers are
// random (incompressible), their digests of algorithm alg.
func revLayout(t *testing.T, sizes []int, alg digest.Algorithm) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	rnd := rand.New(rand.NewSource(3))
	var ims []layout.Image
	for i, n := range sizes {
		b := make([]byte, n)
		rnd.Read(b)
		layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: alg.FromBytes(b), Size: int64(n)}
		if err := txn.Push(ctx, layer, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{layer.Digest}}})
		config := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, c)
		m, _ := json.Marshal(ocispec.Manifest{Versioned: ocispecVersioned(), MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}})
		man := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, m)
		r, _ := layout.ParseRef(fmt.Sprintf("example.com/img%d:1", i))
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(man, r)})
	}
	if err := txn.Commit(ctx, nil, ims); err != nil {
		t.Fatal(err)
	}
	return dir
}

func revWrite(t *testing.T, srcDir, name string, volSize int64) *Result {
	t.Helper()
	ctx := context.Background()
	src, err := Open(ctx, srcDir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := Write(ctx, src, src.Images, filepath.Join(t.TempDir(), name), WriteOptions{VolumeSize: volSize})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// revChunk is one chunk as found in a volume, checked independently.
type revChunk struct {
	vol     string
	part    int
	blob    digest.Digest
	dataOff int64 // in the volume file (plain tars only)
	size    int64
	listed  digest.Digest // what the volume's index says
	actual  digest.Digest // sha256 of the chunk's bytes, computed here
}

func revChunks(t *testing.T, vols []string) []revChunk {
	t.Helper()
	var out []revChunk
	for _, v := range vols {
		f, err := os.Open(v)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		plain := strings.HasSuffix(v, ".tar")
		if strings.HasSuffix(v, ".zst") {
			zr, err := zstd.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			r = zr
		}
		tr := tar.NewReader(r)
		var idx *volumeIndex
		listed := map[string]digest.Digest{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == volumeIndexName {
				b, _ := io.ReadAll(tr)
				if idx, err = parseVolumeIndex(b, v); err != nil {
					t.Fatal(err)
				}
				for _, e := range idx.Entries {
					if e.chunk() {
						listed[e.Name] = e.Digest
					}
				}
				continue
			}
			blob, part, ok := parseChunkName(h.Name)
			if !ok {
				continue
			}
			var off int64
			if plain {
				off, _ = f.Seek(0, io.SeekCurrent)
			}
			hh := sha256.New()
			n, _ := io.Copy(hh, tr)
			out = append(out, revChunk{vol: v, part: part, blob: blob, dataOff: off, size: n,
				listed: listed[h.Name], actual: digest.NewDigestFromBytes(digest.SHA256, hh.Sum(nil))})
		}
		f.Close()
	}
	return out
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	f.ReadAt(b[:], off)
	b[0] ^= 0xff
	f.WriteAt(b[:], off)
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists after a failure", p)
	}
}

// -------------------------------------------- write side: chunk digests

// TestChunkDigestsAreSHA256OfTheBytes: every chunk's index digest is
// the sha256 of the chunk's bytes (docs/FORMAT.md), for 2 chunks and many,
// plain and compressed, and for a blob named by sha512 too.
func TestChunkDigestsAreSHA256OfTheBytes(t *testing.T) {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		for _, ext := range []string{".tar", ".tar.zst"} {
			for _, vs := range []int64{200 << 10, 40 << 10} { // 2 chunks, many
				t.Run(fmt.Sprintf("%s%s/%dK", alg, ext, vs>>10), func(t *testing.T) {
					res := revWrite(t, revLayout(t, []int{300 << 10, 2 << 10}, alg), "set"+ext, vs)
					cs := revChunks(t, res.Volumes)
					if len(cs) < 2 {
						t.Fatalf("%d chunks", len(cs))
					}
					t.Logf("%d volumes, %d chunks", len(res.Volumes), len(cs))
					for _, c := range cs {
						if c.listed != c.actual {
							t.Errorf("%s chunk %d (%d bytes): index says %s, bytes are sha256 %s", filepath.Base(c.vol), c.part, c.size, c.listed, c.actual)
						}
					}
				})
			}
		}
	}
}

// TestSHA512SplitBlobRoundTrip: a set holding a split sha512 blob
// imports (in place and streamed) and verifies.
func TestSHA512SplitBlobRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, ext := range []string{".tar", ".tar.zst"} {
		t.Run(ext, func(t *testing.T) {
			res := revWrite(t, revLayout(t, []int{300 << 10, 2 << 10}, digest.SHA512), "set"+ext, 96<<10)
			dir := filepath.Dir(res.Volumes[0])
			if _, err := Import(ctx, dir, filepath.Join(t.TempDir(), "l"), ImportOptions{}); err != nil {
				t.Errorf("import: %v", err)
			}
			src, err := Open(ctx, dir, OpenOptions{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer src.Close()
			rep := verify.Check(ctx, src, src.Images, &verify.Report{}, verify.Options{})
			for _, p := range append(src.Problems(), nil) {
				if p != nil {
					t.Errorf("verify (stream): %v", p)
				}
			}
			for _, p := range rep.Problems {
				t.Errorf("verify: %s", p.Message)
			}
		})
	}
}

// ------------------------------------- read side: a set read in place

// TestCorruptChunkEveryPath: a byte flipped in chunk 1, chunk 2 or
// the last chunk of a set read in place fails import, verify and an
// export from the set, naming the volume, writing nothing.
func TestCorruptChunkEveryPath(t *testing.T) {
	ctx := context.Background()
	lay := revLayout(t, []int{300 << 10, 40 << 10, 2 << 10}, digest.SHA256)
	for _, which := range []string{"first", "second", "last"} {
		for _, where := range []string{"start", "end"} {
			t.Run(which+"/"+where, func(t *testing.T) {
				res := revWrite(t, lay, "set.tar", 96<<10)
				cs := revChunks(t, res.Volumes)
				c := map[string]revChunk{"first": cs[0], "second": cs[1], "last": cs[len(cs)-1]}[which]
				off := c.dataOff + 3
				if where == "end" {
					off = c.dataOff + c.size - 1
				}
				flip(t, c.vol, off)
				vol := filepath.Base(c.vol)
				wants := []string{vol, fmt.Sprintf("chunk %d of", c.part), "is corrupt"}
				check := func(what string, err error) {
					t.Helper()
					if err == nil {
						t.Errorf("%s: accepted a corrupt chunk %d", what, c.part)
						return
					}
					for _, w := range wants {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("%s: %q does not say %q", what, err, w)
						}
					}
				}
				dir := filepath.Dir(res.Volumes[0])
				for _, concurrency := range []int{1, 8} {
					dest := filepath.Join(t.TempDir(), "l")
					_, err := Import(ctx, dir, dest, ImportOptions{Concurrency: concurrency})
					check(fmt.Sprintf("import -j%d", concurrency), err)
					mustNotExist(t, dest)
					var prog atomic.Int64
					dest = filepath.Join(t.TempDir(), "l")
					_, err = Import(ctx, dir, dest, ImportOptions{Progress: func(n int64) { prog.Add(n) }})
					check("import with progress", err)
					mustNotExist(t, dest)
				}
				src, err := Open(ctx, dir, OpenOptions{InPlace: true})
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				rep := verify.Check(ctx, src, src.Images, &verify.Report{}, verify.Options{})
				var msgs []string
				for _, p := range rep.Problems {
					msgs = append(msgs, p.Message)
				}
				check("verify", func() error {
					if len(msgs) == 0 {
						return nil
					}
					return errors.New(strings.Join(msgs, "; "))
				}())
				for _, name := range []string{"out.tar", "out.tar.zst", "vols.tar"} {
					out := filepath.Join(t.TempDir(), name)
					opts := WriteOptions{}
					if name == "vols.tar" {
						opts.VolumeSize = 64 << 10
					}
					_, err := Write(ctx, src, src.Images, out, opts)
					check("export "+name, err)
					// A failed write keeps its verified segments in hidden
					// ".<name>.tmp-" files to resume from (write.go); only
					// a file under a final name would be a defect.
					ents, _ := os.ReadDir(filepath.Dir(out))
					for _, e := range ents {
						if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp-") {
							t.Errorf("export %s left %s", name, e.Name())
						}
					}
				}
			})
		}
	}
}

// ------------------------------------------ synthetic chunkedFile probes

type synthSrc struct {
	layout.ReadOnly
	open func() io.ReadCloser
}

func (s synthSrc) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return s.open(), nil
}
func (s synthSrc) Exists(context.Context, ocispec.Descriptor) (bool, error) { return true, nil }

type synth struct {
	blob, spoiled []byte
	desc          ocispec.Descriptor
	chunks        []chunkLoc
	hashed        atomic.Int64
}

// newSynth splits a random blob into chunks of sizes (the last takes the
// rest), each with the digest of the intact bytes; spoil then changes the
// bytes the chunks read. listSpoiled records chunk digests of the spoiled
// bytes instead (a chunk whose digest agrees with it but not the blob).
func newSynth(total int, sizes []int, spoil func(b []byte), listSpoiled bool) *synth {
	s := &synth{blob: make([]byte, total)}
	rand.New(rand.NewSource(int64(total))).Read(s.blob)
	s.desc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(s.blob), Size: int64(total)}
	s.spoiled = bytes.Clone(s.blob)
	if spoil != nil {
		spoil(s.spoiled)
	}
	ra := bytes.NewReader(s.spoiled)
	var off int
	for i := 0; off < total; i++ {
		n := total - off
		if i < len(sizes) && sizes[i] < n {
			n = sizes[i]
		}
		src := s.blob
		if listSpoiled {
			src = s.spoiled
		}
		s.chunks = append(s.chunks, chunkLoc{r: ra, off: int64(off), size: int64(n), digest: digest.FromBytes(src[off : off+n]), part: i + 1, label: fmt.Sprintf("vol.%03d", i+1)})
		off += n
	}
	return s
}

func (s *synth) file() *chunkedFile {
	return &chunkedFile{e: &entry{name: "blobs/" + s.desc.Digest.Algorithm().String() + "/" + s.desc.Digest.Encoded(), size: s.desc.Size}, chunks: s.chunks, hashed: &s.hashed}
}

func (s *synth) copy(t *testing.T, opts layout.CopyOptions) (bool, error) {
	t.Helper()
	ctx := context.Background()
	d, err := layout.CreateDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	src := synthSrc{open: func() io.ReadCloser { return s.file() }}
	err = layout.Copy(ctx, src, txn, &layout.Graph{Blobs: []ocispec.Descriptor{s.desc}}, opts)
	ok, _ := txn.Exists(ctx, s.desc)
	return ok, err
}

func (s *synth) partOf(off int) int {
	var at int64
	for _, c := range s.chunks {
		if int64(off) < at+c.size {
			return c.part
		}
		at += c.size
	}
	return -1
}

// TestChunkedFileCopyEdges: layout.Copy (what import runs) through a
// chunkedFile with chunk layouts at the edges: 1-byte and 512-byte first
// chunks, a first chunk of exactly the copy buffer (1 MiB) and one byte
// either side, two chunks and fifty; a byte spoiled at each edge.
func TestChunkedFileCopyEdges(t *testing.T) {
	const M = 1 << 20
	layouts := []struct {
		name  string
		total int
		sizes []int
	}{
		{"two", 300 << 10, []int{150 << 10}},
		{"first1", 10 << 10, []int{1, 4096}},
		{"first512", 10 << 10, []int{512, 4096}},
		{"firstBuf", 2*M + 17, []int{M, M}},
		{"firstBuf-1", 2*M + 17, []int{M - 1, M}},
		{"firstBuf+1", 2*M + 17, []int{M + 1, M}},
		{"fifty", 50 * 1000, slices.Repeat([]int{1000}, 49)},
	}
	for _, l := range layouts {
		for _, prog := range []bool{false, true} {
			opts := layout.CopyOptions{}
			if prog {
				opts.Progress = func(int64) {}
			}
			t.Run(fmt.Sprintf("%s/progress=%v/intact", l.name, prog), func(t *testing.T) {
				s := newSynth(l.total, l.sizes, nil, false)
				if ok, err := s.copy(t, opts); err != nil || !ok {
					t.Fatalf("intact: %v, arrived %v", err, ok)
				}
				if got, want := s.hashed.Load(), s.desc.Size-s.chunks[0].size; got != want {
					t.Errorf("hashed %d, want %d", got, want)
				}
			})
			c0 := newSynth(l.total, l.sizes, nil, false).chunks
			last := c0[len(c0)-1]
			for _, at := range []int{0, int(c0[0].size) - 1, int(c0[0].size), int(c0[1].off + c0[1].size - 1), int(last.off), l.total - 1} {
				t.Run(fmt.Sprintf("%s/progress=%v/spoil@%d", l.name, prog, at), func(t *testing.T) {
					s := newSynth(l.total, l.sizes, func(b []byte) { b[at] ^= 1 }, false)
					part := s.partOf(at)
					ok, err := s.copy(t, opts)
					if err == nil || ok {
						t.Fatalf("spoiled byte %d (chunk %d) let through: %v, arrived %v", at, part, err, ok)
					}
					for _, w := range []string{fmt.Sprintf("vol.%03d: chunk %d of", part, part), "is corrupt"} {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("%q does not say %q", err, w)
						}
					}
				})
			}
		}
	}
}

// TestSHA512BlobReadInPlace: a sha512 blob split in a set read in
// place, its chunk digests sha256 as docs/FORMAT.md says and as ferry
// before this change wrote them: layout.Copy (import) must take it.
func TestSHA512BlobReadInPlace(t *testing.T) {
	s := newSynth(300<<10, []int{100 << 10, 100 << 10}, nil, false)
	s.desc.Digest = digest.SHA512.FromBytes(s.blob)
	if ok, err := s.copy(t, layout.CopyOptions{}); err != nil || !ok {
		t.Errorf("intact sha512 blob refused: %v (arrived %v)", err, ok)
	}
}

// TestSwappedFirstChunk: chunk 1's bytes agree with its own listed
// digest but not with the blob: the blob's check must still refuse it.
func TestSwappedFirstChunk(t *testing.T) {
	s := newSynth(300<<10, []int{100 << 10}, func(b []byte) { b[10] ^= 1 }, true)
	ok, err := s.copy(t, layout.CopyOptions{})
	if err == nil || ok {
		t.Fatalf("let through: %v %v", err, ok)
	}
	if !errors.Is(err, layout.ErrDigestMismatch) {
		t.Errorf("not a digest mismatch: %v", err)
	}
	t.Logf("swapped chunk 1: %v", err)
}

// verified reads f through a VerifyReader told to f, via mid between.
func verified(t *testing.T, s *synth, f *chunkedFile, mid func(io.Reader) io.Reader) error {
	t.Helper()
	vr, err := layout.NewVerifyReader(mid(f), s.desc)
	if err != nil {
		t.Fatal(err)
	}
	f.HashedBy(vr)
	return vr.Drain()
}

// TestBetweenVerifierAndFile: consumers that buffer between the
// verifier and the file (bufio): chunk 1 is read again from its volume
// and checked, and named. (A read-ahead goroutine between them breaks
// layout.PrefixHashed's contract, the file read on the verifier's own
// goroutine, and is not tried.)
func TestBetweenVerifierAndFile(t *testing.T) {
	mids := map[string]func(io.Reader) io.Reader{
		"bufio4K": func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 4096) },
		"bufio1M": func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 1<<20) },
	}
	for name, mid := range mids {
		t.Run(name+"/intact", func(t *testing.T) {
			s := newSynth(300<<10, []int{100 << 10, 100 << 10}, nil, false)
			if err := verified(t, s, s.file(), mid); err != nil {
				t.Errorf("intact blob refused: %v", err)
			}
		})
		t.Run(name+"/spoiled1", func(t *testing.T) {
			s := newSynth(300<<10, []int{100 << 10, 100 << 10}, func(b []byte) { b[5] ^= 1 }, false)
			err := verified(t, s, s.file(), mid)
			if err == nil {
				t.Fatal("spoiled chunk 1 let through")
			}
			if !strings.Contains(err.Error(), "vol.001") {
				t.Errorf("spoiled chunk 1 refused, but the volume is not named: %v", err)
			}
		})
	}
}

// TestVerifierNotReadingTheFile: HashedBy given a verifier that is
// not the file's reader; the file is read directly to its end: chunk 1
// is read again from its volume and checked, not left unchecked.
func TestVerifierNotReadingTheFile(t *testing.T) {
	s := newSynth(300<<10, []int{100 << 10, 100 << 10}, func(b []byte) { b[5] ^= 1 }, false)
	f := s.file()
	other, _ := layout.NewVerifyReader(strings.NewReader(""), s.desc)
	f.HashedBy(other)
	_, err := io.ReadAll(f)
	if err == nil {
		t.Errorf("a spoiled chunk 1 read through the file unchecked (HashedBy was given a verifier that never read it)")
	}
}

// TestHashedByLate: HashedBy after the first read is ignored; the
// file checks chunk 1 itself.
func TestHashedByLate(t *testing.T) {
	s := newSynth(300<<10, []int{100 << 10, 100 << 10}, func(b []byte) { b[50] ^= 1 }, false)
	f := s.file()
	var b [10]byte
	io.ReadFull(f, b[:])
	vr, _ := layout.NewVerifyReader(f, s.desc)
	f.HashedBy(vr)
	_, err := io.ReadAll(f)
	if err == nil || !strings.Contains(err.Error(), "vol.001") {
		t.Errorf("late HashedBy: %v", err)
	}
}

// TestChunkedFileSeeks: reads out of order around a verifier.
func TestChunkedFileSeeks(t *testing.T) {
	t.Run("chunk1 twice, corrupt", func(t *testing.T) {
		s := newSynth(300<<10, []int{100 << 10, 100 << 10}, func(b []byte) { b[5] ^= 1 }, false)
		f := s.file()
		vr, _ := layout.NewVerifyReader(f, s.desc)
		f.HashedBy(vr)
		io.CopyN(io.Discard, vr, 100<<10) // chunk 1, via the verifier, unchecked yet
		f.Seek(0, io.SeekStart)
		_, err := io.ReadAll(f) // again, directly
		if err == nil || !strings.Contains(err.Error(), "vol.001") {
			t.Errorf("chunk 1 read twice: %v", err)
		}
	})
	t.Run("seek-current mid chunk1, intact", func(t *testing.T) {
		s := newSynth(300<<10, []int{100 << 10, 100 << 10}, nil, false)
		f := s.file()
		vr, _ := layout.NewVerifyReader(f, s.desc)
		f.HashedBy(vr)
		io.CopyN(io.Discard, vr, 10<<10)
		f.Seek(0, io.SeekCurrent) // a position probe
		if err := vr.Drain(); err != nil {
			t.Errorf("intact blob refused after Seek(0, SeekCurrent): %v", err)
		}
	})
}

func ocispecVersioned() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }
