package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/verify"
)

const (
	resumeChildEnv = "FERRY_RESUME_CHILD" // "SRC DST KILLAT"
)

// TestMain lets the resume test run this binary as an import that kills
// itself (SIGKILL: nothing is cleaned up) once it has read a chosen number
// of bytes from its source.
func TestMain(m *testing.M) {
	if v := os.Getenv(resumeChildEnv); v != "" {
		os.Exit(resumeChild(v))
	}
	os.Exit(m.Run())
}

func resumeChild(v string) int {
	f := strings.Fields(v)
	at, _ := strconv.ParseInt(f[2], 10, 64)
	var read atomic.Int64
	opts := archive.Watched(archive.ImportOptions{}, func(n int) {
		if read.Add(int64(n)) > at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	if _, err := archive.Import(context.Background(), f[0], f[1], opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// resumeSource writes three images of four random layers each (some
// shared), a few MiB in all, as the archive at path.
func resumeSource(t *testing.T, path string) {
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var layers []ocispec.Descriptor
	for i := range 8 {
		desc, err := txn.Ingest(context.Background(), io.LimitReader(rand.NewChaCha8([32]byte{byte(i), 7}), int64(200<<10+i*97<<10)), "")
		if err != nil {
			t.Fatal(err)
		}
		desc.MediaType = ocispec.MediaTypeImageLayer
		layers = append(layers, desc)
	}
	var ims []layout.Image
	for i := range 3 {
		ls := layers[i*2 : i*2+4]
		var ids, descs []string
		for _, l := range ls {
			ids = append(ids, `"`+l.Digest.String()+`"`)
			descs = append(descs, `{"mediaType":"`+l.MediaType+`","digest":"`+l.Digest.String()+`","size":`+strconv.FormatInt(l.Size, 10)+`}`)
		}
		cfg := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, []byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[`+strings.Join(ids, ",")+`]}}`))
		m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			cfg.Digest.String() + `","size":` + strconv.FormatInt(cfg.Size, 10) + `},"layers":[` + strings.Join(descs, ",") + `]}`
		desc := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, []byte(m))
		r, _ := layout.ParseRef("example.com/resume:" + strconv.Itoa(i))
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(desc, r)})
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Write(context.Background(), d, ims, path, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// treeHash is one digest of every file of a layout but ferry's own
// bookkeeping, names and contents.
func treeHash(t *testing.T, dir string) string {
	h := sha256.New()
	var names []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".ferry" {
			return filepath.SkipDir
		}
		if e.Type().IsRegular() {
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// staged lists the complete blobs a killed import left in its staging:
// digest → the file's identity, to prove the re-run kept that very file.
func staged(t *testing.T, dir string, want map[digest.Digest]int64) map[digest.Digest]os.FileInfo {
	out := map[digest.Digest]os.FileInfo{}
	filepath.WalkDir(filepath.Join(dir, ".ferry", "tmp"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), "b-") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		dg := digest.FromBytes(b)
		if size, ok := want[dg]; ok && size == int64(len(b)) {
			fi, _ := os.Lstat(p)
			out[dg] = fi
		}
		return nil
	})
	return out
}

func verifyLayout(t *testing.T, dir string) []layout.Image {
	t.Helper()
	got, err := archive.Open(context.Background(), dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	rep := verify.Check(context.Background(), got, got.Images, nil, verify.Options{Workers: 1})
	if !rep.OK {
		t.Fatalf("%s does not verify: %+v", dir, rep.Problems)
	}
	return got.Images
}

// TestImportResumesAfterKill kills an import with SIGKILL at 20 random
// byte offsets of its source, for an archive read in place and for a
// gzip stream, into a layout that holds one of its images already. After
// every kill the destination must be untouched and verify; the re-run must complete with a
// layout byte-identical to an uninterrupted import's, and must have moved
// only what was missing: every complete blob the dead run staged is the
// very file the re-run published (not written again), and in place the
// re-run read exactly the source bytes of the blobs it did not reuse.
func TestImportResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	for _, name := range []string{"in-place.tar", "stream.tar.gz"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), name)
			resumeSource(t, src)
			var read atomic.Int64
			counted := archive.Watched(archive.ImportOptions{}, func(n int) { read.Add(int64(n)) })

			// Every destination already holds one of the images: a kill
			// must leave it as it was, and its layers, committed, are not
			// read from the source again.
			seed := func(dir string) {
				if _, err := archive.Import(context.Background(), src, dir, archive.ImportOptions{Names: []string{"example.com/resume:0"}}); err != nil {
					t.Fatal(err)
				}
			}
			fresh := filepath.Join(t.TempDir(), "fresh")
			read.Store(0)
			if _, err := archive.Import(context.Background(), src, fresh, counted); err != nil {
				t.Fatal(err)
			}
			freshRead := read.Load()
			ref := filepath.Join(t.TempDir(), "ref")
			seed(ref)
			seeded := treeHash(t, ref)
			var seedLayers int64
			sl, _ := layout.OpenDir(ref)
			sb, _ := sl.Blobs(context.Background())
			sl.Close()
			for _, b := range sb {
				if b.Size >= 64<<10 {
					seedLayers += b.Size
				}
			}
			read.Store(0)
			if _, err := archive.Import(context.Background(), src, ref, counted); err != nil {
				t.Fatal(err)
			}
			full := read.Swap(0)
			if name == "in-place.tar" && full > freshRead-seedLayers {
				t.Fatalf("an import read %d bytes of the source into a layout holding %d bytes of its layers; into an empty one %d", full, seedLayers, freshRead)
			}
			want := map[digest.Digest]int64{}
			rl, _ := layout.OpenDir(ref)
			blobs, _ := rl.Blobs(context.Background())
			rl.Close()
			for _, b := range blobs {
				want[b.Digest] = b.Size
			}
			refHash := treeHash(t, ref)
			rng := rand.New(rand.NewPCG(uint64(len(name)), 10))
			reusedAny, reusedLayers := 0, 0
			for range 20 {
				at := rng.Int64N(full)
				dst := filepath.Join(t.TempDir(), "dst")
				seed(dst)
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), resumeChildEnv+"="+src+" "+dst+" "+strconv.FormatInt(at, 10))
				out, err := cmd.CombinedOutput()
				if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("kill at byte %d of %d: the import was not killed: %v\n%s", at, full, err, out)
				}
				if ims := verifyLayout(t, dst); len(ims) != 1 || treeHash(t, dst) != seeded {
					t.Fatalf("kill at byte %d: the killed import changed the destination (%d images)", at, len(ims))
				}
				left := staged(t, dst, want)
				// Manifests are read by the walk whatever is staged (and
				// configs may be); a layer that was staged whole must not
				// be read again.
				var leftBytes, leftLayers int64
				for dg := range left {
					leftBytes += want[dg]
					if want[dg] >= 64<<10 {
						leftLayers += want[dg]
					}
				}
				read.Store(0)
				res, err := archive.Import(context.Background(), src, dst, counted)
				if err != nil {
					t.Fatalf("kill at byte %d: re-run: %v", at, err)
				}
				got := read.Load()
				if h := treeHash(t, dst); h != refHash {
					t.Fatalf("kill at byte %d: the resumed layout differs from an uninterrupted import's", at)
				}
				verifyLayout(t, dst)
				for dg, fi := range left {
					now, err := os.Lstat(filepath.Join(dst, "blobs", "sha256", dg.Encoded()))
					if err != nil || !os.SameFile(fi, now) {
						t.Fatalf("kill at byte %d: blob %s, staged whole by the killed run, was written again", at, dg)
					}
				}
				if name == "in-place.tar" && (got > full-leftLayers || got < full-leftBytes) {
					t.Fatalf("kill at byte %d: the re-run read %d bytes of the source; %d to %d were missing (%d of %d staged)", at, got, full-leftBytes, full-leftLayers, leftBytes, full)
				}
				if name != "in-place.tar" && got != full {
					t.Fatalf("kill at byte %d: the stream was read for %d of %d bytes", at, got, full)
				}
				if ents, _ := os.ReadDir(filepath.Join(dst, ".ferry", "tmp")); len(ents) != 0 {
					t.Fatalf("kill at byte %d: staging left after the re-run: %v", at, ents)
				}
				if leftLayers > 0 {
					reusedLayers++
				}
				if len(left) > 0 {
					reusedAny++
					if !strings.Contains(strings.Join(res.Notes, "\n"), "resumed: "+strconv.Itoa(len(left))+" blobs") {
						t.Fatalf("kill at byte %d: notes do not say what was reused: %q", at, res.Notes)
					}
				}
				t.Logf("killed at byte %d of %d: %d blobs (%d bytes, %d of layers) reused, re-run read %d", at, full, len(left), leftBytes, leftLayers, got)
			}
			if reusedAny < 5 || reusedLayers < 5 {
				t.Fatalf("only %d of 20 kills left a whole staged blob: the test proves little", reusedAny)
			}
		})
	}
}
