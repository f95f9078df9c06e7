package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// TestArchiveWritesResumeAfterKill kills ferry with SIGKILL at 20 random
// points of each of pull, copy and export into an archive or a volume
// set, plain and compressed: once the registry has answered a random
// number of blob bytes, or (export, whose source is a local layout) once
// the temp files have grown past a random size. After every kill nothing
// may stand under the destination's names, and what the killed run wrote
// must be a prefix of what an uninterrupted run writes. The re-run must
// complete with files byte-identical to the uninterrupted run's, and
// must fetch exactly the blobs that the killed run had not written whole
// (bytes and GETs counted at the registry): a blob cut off by the kill is
// fetched again whole, and a blob split across volumes counts as whole
// only when every chunk of it is.
func TestArchiveWritesResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	src, ims, descs := pushSource(t)
	reg := regtest.Start(t)
	proxy := regtest.NewCounter(t, reg)
	if code, _, errs := ferry(t, "push", src, "--to", reg.Host+"/ref"); code != 0 {
		t.Fatal(errs)
	}
	// Manifests and configs are what a run reads to plan the archive: every
	// run fetches them, small as they are; configs are GETs of blobs.
	planned := map[string]bool{}
	configs := map[string]int64{}
	var refs []string
	for _, im := range ims {
		for _, d := range descs[im.Desc.Digest] {
			switch d.MediaType {
			case ocispec.MediaTypeImageConfig:
				configs[d.Digest.Encoded()] = d.Size
				planned[d.Digest.Encoded()] = true
			case ocispec.MediaTypeImageManifest:
				planned[d.Digest.Encoded()] = true
			}
		}
		refs = append(refs, proxy.Host+"/ref/res:"+im.Ref.Tag)
	}
	cases := []struct {
		name string
		dest string // the file the command is given
		args func(dest string) []string
		// local: the source is a local layout, so the kill comes by the
		// temp files' size and bytes read cannot be counted.
		local bool
	}{
		{"pull to .tar", "out.tar", func(d string) []string { return append(append([]string{"pull"}, refs...), "--to", d) }, false},
		{"pull to a .tar.gz volume set", "out.tar.gz", func(d string) []string {
			return append(append([]string{"pull"}, refs...), "--to", d, "--volume-size", "700K")
		}, false},
		{"copy to .tar.gz", "out.tar.gz", func(d string) []string { return []string{"copy", proxy.Host + "/ref/res:f", d} }, false},
		{"export to a .tar volume set", "out.tar", func(d string) []string { return []string{"export", src, "--to", d, "--volume-size", "600K"} }, true},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refDir := t.TempDir()
			proxy.Reset()
			if code, out, errs := ferry(t, c.args(filepath.Join(refDir, c.dest))...); code != 0 {
				t.Fatal(out, errs)
			}
			full, fullGets := proxy.Served(), len(proxy.Fetches())
			if os.Getenv("DBG") != "" {
				t.Log(proxy.Fetches())
			}
			want := dirFiles(t, refDir)
			if code, _, errs := ferry(t, "verify", filepath.Join(refDir, firstFile(want))); code != 0 {
				t.Fatal(errs)
			}
			total := full
			if c.local {
				total = 0
				for _, b := range want {
					total += int64(len(b))
				}
			}
			resumed := 0
			for range 20 {
				at := rng.Int64N(total)
				dir := t.TempDir()
				killAt(t, proxy, dir, c.args(filepath.Join(dir, c.dest)), at, c.local)
				if os.Getenv("DBG") != "" {
					filepath.WalkDir(filepath.Dir(dir), func(p string, e os.DirEntry, err error) error { t.Log(p); return nil })
				}
				temps := map[string][]byte{} // the destination file each temp is for
				for name, b := range dirFiles(t, dir) {
					if tmp, ok := tempFor(name); ok {
						temps[tmp] = b
						continue
					}
					if !bytes.Equal(b, want[name]) {
						t.Fatalf("kill at %d: %s stands under the destination's name and is not the whole file", at, name)
					}
				}
				missing, gets := 0, 0
				if len(temps) > 0 {
					missing, gets = wantFetched(t, want, temps, planned, strings.HasSuffix(c.dest, ".gz"))
					for _, n := range configsOf(t, want, configs) {
						missing += int(n)
						gets++
					}
					resumed++
				} else if len(dirFiles(t, dir)) == 0 {
					missing, gets = int(full), fullGets
				}
				proxy.Reset()
				code, out, errs := ferry(t, c.args(filepath.Join(dir, c.dest))...)
				if code != 0 {
					t.Fatalf("kill at %d: re-run: %s %s", at, out, errs)
				}
				if len(temps) > 0 && !strings.Contains(out, "resumed ") && missing < int(full) {
					t.Fatalf("kill at %d: the re-run does not say it resumed:\n%s", at, out)
				}
				if c.local && len(temps) > 0 {
					// Bytes read from a local source cannot be counted;
					// the re-run must at least keep exactly the blobs the
					// killed run wrote whole.
					notMissing, _ := wantFetched(t, want, temps, nil, false)
					m := regexp.MustCompile(`kept \d+ of \d+ blobs \((\d+) bytes\)`).FindStringSubmatch(out)
					if all := allBlobBytes(t, want); m == nil || m[1] != strconv.Itoa(all-notMissing) {
						t.Fatalf("kill at %d: the re-run should keep %d bytes of blobs:\n%s", at, all-notMissing, out)
					}
				}
				got := dirFiles(t, dir)
				for name, b := range want {
					if !bytes.Equal(got[name], b) {
						t.Fatalf("kill at %d: %s differs from the uninterrupted run's", at, name)
					}
				}
				if len(got) != len(want) {
					t.Fatalf("kill at %d: the re-run left %d files, want %d", at, len(got), len(want))
				}
				if !c.local && (proxy.Served() != int64(missing) || len(proxy.Fetches()) != gets) {
					t.Fatalf("kill at %d: the re-run fetched %d blob bytes in %d GETs; the killed run had not written %d bytes in %d blobs", at, proxy.Served(), len(proxy.Fetches()), missing, gets)
				}
				t.Logf("killed at %d of %d: %d temp file(s), re-run fetched %d bytes in %d GETs", at, total, len(temps), proxy.Served(), len(proxy.Fetches()))
			}
			if resumed < 10 {
				t.Fatalf("only %d of 20 kills left a temp file: the test proves little", resumed)
			}
		})
	}
}

// killAt runs ferry with args and kills it with SIGKILL once the proxy
// has answered at blob bytes or, for a local source, once the temp files
// in dir hold more than at bytes.
func killAt(t *testing.T, proxy *regtest.Counter, dir string, args []string, at int64, local bool) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
	if os.Getenv("DBG") != "" {
		cmd.Stderr = os.Stderr
		cmd.Stdout = os.Stderr
	}
	var child atomic.Pointer[os.Process]
	proxy.Reset()
	proxy.OnServed(func(total int64) {
		if p := child.Load(); !local && total > at && p != nil {
			p.Kill()
		}
	})
	defer proxy.OnServed(nil)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Store(cmd.Process)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	for local {
		select {
		case <-done:
			return
		case <-time.After(200 * time.Microsecond):
		}
		var n int64
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		if n > at {
			cmd.Process.Kill()
			break
		}
	}
	<-done
	proxy.Settle()
}

// dirFiles reads every regular file of dir by name.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

func firstFile(m map[string][]byte) string {
	first := ""
	for name := range m {
		if first == "" || name < first {
			first = name
		}
	}
	return first
}

// tempFor names the file a temp file (".NAME.tmp-RANDOM") is written for.
func tempFor(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	i := strings.LastIndex(name, ".tmp-")
	if i < 0 {
		return "", false
	}
	return name[1:i], true
}

// tarEnt is an entry of an uninterrupted run's file and the byte where
// the piece of the file holding it ends: its padding's end in a plain
// tar, its gzip member's end in a compressed one.
type tarEnt struct {
	name string
	size int64
	end  int64
}

// wantFetched says what a re-run must fetch after a kill left temps:
// every config and layer not wholly within the bytes a temp kept, each a
// GET. Kept bytes must be the uninterrupted file's own (a plain volume's
// index excepted: it is completed at the end). A blob cut into chunks is
// kept only if all its chunks are; in a compressed set such a blob is
// read twice (its chunks are hashed before the volume's index is written).
func wantFetched(t *testing.T, want, temps map[string][]byte, planned map[string]bool, compressed bool) (n, gets int) {
	t.Helper()
	whole := map[string]bool{}
	size := map[string]int64{}
	split := map[string]bool{}
	for name, b := range want {
		kept, ok := temps[name]
		if ok && len(kept) > len(b) {
			t.Fatalf("the temp for %s holds %d bytes, more than the file's %d", name, len(kept), len(b))
		}
		ents := tarEnts(t, b, compressed)
		if ok && !bytes.Equal(masked(kept, ents, compressed), masked(b[:len(kept)], ents, compressed)) {
			t.Fatalf("the temp for %s is not a prefix of the uninterrupted file", name)
		}
		for _, e := range ents {
			blob, chunk := blobOf(e.name)
			if blob == "" || planned[blob] {
				continue
			}
			size[blob] += e.size
			if chunk {
				split[blob] = true
			}
			in := ok && e.end <= int64(len(kept))
			if v, seen := whole[blob]; seen {
				whole[blob] = v && in
			} else {
				whole[blob] = in
			}
		}
	}
	for blob, w := range whole {
		if !w {
			n += int(size[blob])
			gets++
			if compressed && split[blob] {
				n += int(size[blob])
				gets++
			}
		}
	}
	return n, gets
}

// allBlobBytes is the bytes of every blob the files hold, whole or in chunks.
func allBlobBytes(t *testing.T, files map[string][]byte) int {
	n := 0
	for _, b := range files {
		for _, e := range tarEnts(t, b, bytes.HasPrefix(b, []byte{0x1f, 0x8b})) {
			if h, _ := blobOf(e.name); h != "" {
				n += int(e.size)
			}
		}
	}
	return n
}

// configsOf lists the sizes of the configs the archive holds.
func configsOf(t *testing.T, files map[string][]byte, configs map[string]int64) []int64 {
	seen := map[string]bool{}
	var out []int64
	for _, b := range files {
		for _, e := range tarEnts(t, b, bytes.HasPrefix(b, []byte{0x1f, 0x8b})) {
			if h, _ := blobOf(e.name); configs[h] > 0 && !seen[h] {
				seen[h] = true
				out = append(out, configs[h])
			}
		}
	}
	return out
}

// blobOf gives the hex digest an entry holds, whole or a chunk of.
func blobOf(name string) (string, bool) {
	if h, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && len(h) == 64 {
		return h, false
	}
	if h, ok := strings.CutPrefix(name, "ferry-chunks/sha256/"); ok {
		if i := strings.IndexByte(h, '.'); i == 64 {
			return h[:i], true
		}
	}
	return "", false
}

// masked blanks a plain volume's index (the first entry, ferry-volume.json),
// which the killed run held as a placeholder.
func masked(b []byte, ents []tarEnt, compressed bool) []byte {
	if compressed || len(ents) == 0 || ents[0].name != "ferry-volume.json" {
		return b
	}
	out := bytes.Clone(b)
	for i := 512; i < 512+int(ents[0].size) && i < len(out); i++ {
		out[i] = 0
	}
	return out
}

// tarEnts lists a file's entries with where each one's piece ends.
func tarEnts(t *testing.T, b []byte, compressed bool) []tarEnt {
	t.Helper()
	if !compressed {
		cr := &readCount{r: bytes.NewReader(b)}
		tr := tar.NewReader(cr)
		var out []tarEnt
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, tr)
			out = append(out, tarEnt{h.Name, h.Size, (cr.n + 511) &^ 511})
		}
	}
	var out []tarEnt
	cr := &readCount{r: bytes.NewReader(b)}
	br := bufio.NewReader(cr)
	for {
		if _, err := br.Peek(1); err != nil {
			return out
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		member, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		end := cr.n - int64(br.Buffered())
		tr := tar.NewReader(bytes.NewReader(member))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			out = append(out, tarEnt{h.Name, h.Size, end})
		}
	}
}

type readCount struct {
	r io.Reader
	n int64
}

func (c *readCount) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
