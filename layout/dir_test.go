package layout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCreateDir(t *testing.T) {
	for name, path := range map[string]string{
		"new path":        filepath.Join(t.TempDir(), "a", "b"),
		"empty directory": t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			d, err := layout.CreateDir(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if b, err := os.ReadFile(filepath.Join(path, "oci-layout")); err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
				t.Fatalf("oci-layout = %q, %v", b, err)
			}
			idx, err := d.ReadIndex()
			if err != nil || idx.Manifests == nil || len(idx.Manifests) != 0 || idx.MediaType != ocispec.MediaTypeImageIndex {
				t.Fatalf("index.json = %+v, %v", idx, err)
			}
			if fi, err := os.Stat(filepath.Join(path, "blobs")); err != nil || !fi.IsDir() {
				t.Fatalf("blobs/: %v", err)
			}
			if d.Path() != path {
				t.Fatalf("Path() = %q", d.Path())
			}
		})
	}
}

func TestCreateDirReopensLayout(t *testing.T) {
	d := newDir(t)
	im := named(t, entry("x", nil), "x:1")
	if err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) { return append(ims, im), nil }); err != nil {
		t.Fatal(err)
	}
	again, err := layout.CreateDir(context.Background(), d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if ims, err := again.Images(); err != nil || len(ims) != 1 || ims[0].Name() != "docker.io/library/x:1" {
		t.Fatalf("reopened layout lost its index: %+v, %v", ims, err)
	}
}

func TestCreateDirRefusesNonLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if d, err := layout.CreateDir(context.Background(), dir); err == nil {
		d.Close()
		t.Fatal("CreateDir wrote into a non-empty directory that is not a layout")
	}
	assertSnapshot(t, dir, before)
	if _, err := os.Stat(filepath.Join(dir, ".ferry")); !os.IsNotExist(err) {
		t.Fatalf(".ferry/ was created in a directory that was refused: %v", err)
	}
	file := filepath.Join(dir, "notes.txt")
	if d, err := layout.CreateDir(context.Background(), file); err == nil {
		d.Close()
		t.Fatal("CreateDir on a regular file succeeded")
	}
}

// init writes index.json before oci-layout so that "a crash in between
// leaves one CreateDir can finish"; CreateDir must then finish it.
func TestCreateDirResumesInterrupted(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"blobs/sha256", ".ferry/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("CreateDir of an interrupted layout: %v", err)
	}
	d.Close()

	fresh := filepath.Join(t.TempDir(), "new")
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			d, err := layout.CreateDir(context.Background(), fresh)
			if err != nil {
				t.Errorf("concurrent CreateDir: %v", err)
				return
			}
			d.Close()
		})
	}
	wg.Wait()
}

// FORMATS.md §8.5 item 1.
func TestOpenDirInvalid(t *testing.T) {
	for name, content := range map[string]string{
		"missing":            "",
		"not an object":      `["1.0.0"]`,
		"no version":         `{}`,
		"version 2.0.0":      `{"imageLayoutVersion":"2.0.0"}`,
		"duplicate version":  `{"imageLayoutVersion":"1.0.0","imageLayoutVersion":"2.0.0"}`,
		"case variant field": `{"ImageLayoutVersion":"1.0.0"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if content != "" {
				os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(content), 0o644)
			}
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
			if d, err := layout.OpenDir(dir); !errors.Is(err, layout.ErrInvalid) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("OpenDir = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestDirIndexFileRules(t *testing.T) {
	d := newDir(t)
	idx := filepath.Join(d.Path(), "index.json")
	os.Remove(idx)
	if _, err := d.Images(); !errors.Is(err, layout.ErrInvalid) {
		t.Errorf("missing index.json: %v, want ErrInvalid", err)
	}
	os.WriteFile(idx, bytes.Repeat([]byte(" "), 5<<20), 0o644)
	if _, err := d.Images(); !errors.Is(err, layout.ErrTooLarge) {
		t.Errorf("5 MiB index.json: %v, want ErrTooLarge", err)
	}
	outside := filepath.Join(t.TempDir(), "index.json")
	os.WriteFile(outside, []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	os.Remove(idx)
	os.Symlink(outside, idx)
	if _, err := d.Images(); !errors.Is(err, layout.ErrUnsafe) {
		t.Errorf("symlinked index.json: %v, want ErrUnsafe", err)
	}
}

// FORMATS.md §8.5 item 6: a planted link, FIFO or directory is refused,
// not followed.
func TestDirFetchUnsafe(t *testing.T) {
	ctx := context.Background()
	b, d := storetest.Blob(t, 100)
	plant := map[string]func(path string) error{
		"symlink outside": func(p string) error {
			target := filepath.Join(t.TempDir(), "blob")
			os.WriteFile(target, b, 0o644)
			return os.Symlink(target, p)
		},
		"symlink inside": func(p string) error {
			target := filepath.Join(filepath.Dir(p), "real")
			os.WriteFile(target, b, 0o644)
			return os.Symlink("real", p)
		},
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"directory": func(p string) error { return os.Mkdir(p, 0o755) },
	}
	for name, mk := range plant {
		t.Run(name, func(t *testing.T) {
			dir := newDir(t)
			if err := mk(filepath.Join(dir.Path(), "blobs", "sha256", d.Digest.Encoded())); err != nil {
				t.Fatal(err)
			}
			rc, err := dir.Fetch(ctx, d)
			if !errors.Is(err, layout.ErrUnsafe) {
				if rc != nil {
					rc.Close()
				}
				t.Fatalf("Fetch = %v, want ErrUnsafe", err)
			}
			if ok, _ := dir.Exists(ctx, d); ok {
				t.Fatal("Exists reported an unsafe entry as present")
			}
		})
	}
}

func TestDirFetchSizeMismatch(t *testing.T) {
	dir := newDir(t)
	b, d := storetest.Blob(t, 100)
	pushBytes(t, dir, d.MediaType, b)
	d.Size--
	if _, err := dir.Fetch(context.Background(), d); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Fatalf("Fetch with size-1: %v, want ErrSizeMismatch", err)
	}
}

// stagedFiles lists the regular files under .ferry/tmp other than locks.
func stagedFiles(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(root, ".ferry", "tmp"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.HasSuffix(p, ".lock") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestDirFailedPushLeavesNothing(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	d, err := layout.CreateDir(context.Background(), filepath.Join(parent, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before := snapshot(t, parent)
	b, good := storetest.Blob(t, 5000)
	bad := []struct {
		d ocispec.Descriptor
		r []byte
	}{
		{good, b[:100]},
		{ocispec.Descriptor{Digest: good.Digest, Size: good.Size - 1}, b},
		{ocispec.Descriptor{Digest: "sha256:../../x", Size: 1}, []byte("x")},
		{ocispec.Descriptor{Digest: "sha256:../../../escape", Size: 1}, []byte("x")},
	}
	for _, tc := range bad {
		if err := d.Push(ctx, tc.d, bytes.NewReader(tc.r)); err == nil {
			t.Fatalf("Push(%s, %d bytes) succeeded", tc.d.Digest, len(tc.r))
		}
	}
	assertSnapshot(t, parent, before)
	if files := stagedFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("failed pushes left temp files: %q", files)
	}
}

func TestDirCloseRemovesSession(t *testing.T) {
	d, err := layout.CreateDir(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, desc := storetest.Blob(t, 10)
	pushBytes(t, d, desc.MediaType, b)
	txn := d.Begin()
	b2, desc2 := storetest.Blob(t, 10)
	if err := txn.Push(context.Background(), desc2, bytes.NewReader(b2)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	ents, _ := os.ReadDir(filepath.Join(d.Path(), ".ferry", "tmp"))
	if len(ents) != 0 {
		t.Fatalf("Close left %d entries in .ferry/tmp", len(ents))
	}
}

func TestDirBlobs(t *testing.T) {
	d := newDir(t)
	b, desc := storetest.Blob(t, 10)
	pushBytes(t, d, desc.MediaType, b)
	os.WriteFile(filepath.Join(d.Path(), "blobs", "sha256", "README"), []byte("x"), 0o644)
	infos, err := d.Blobs(context.Background())
	if err != nil || len(infos) != 2 {
		t.Fatalf("Blobs = %+v, %v", infos, err)
	}
	for _, bi := range infos {
		switch {
		case bi.Digest == desc.Digest && (bi.Err != nil || bi.Size != 10):
			t.Errorf("good blob listed as %+v", bi)
		case strings.HasSuffix(bi.Path, "README") && !errors.Is(bi.Err, layout.ErrInvalidDigest):
			t.Errorf("README listed without an invalid digest error: %+v", bi)
		}
	}
}

// addEntries adds n uniquely tagged entries, one UpdateIndex each, through
// its own handle on the layout at path.
func addEntries(path, prefix string, n int) error {
	d, err := layout.OpenDir(path)
	if err != nil {
		return err
	}
	defer d.Close()
	for i := range n {
		tag := fmt.Sprintf("%s-%d", prefix, i)
		r := layout.Ref{Repo: "example.com/load", Tag: tag}
		im := layout.InterpretEntry(layout.Annotate(entry(tag, nil), r))
		if err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) {
			return layout.MergeImages(ims, []layout.Image{im}), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func assertEntries(t *testing.T, path string, prefixes []string, n int) {
	t.Helper()
	d, err := layout.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ims, err := d.Images()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, im := range ims {
		have[im.Ref.Tag] = true
	}
	for _, p := range prefixes {
		for i := range n {
			if tag := fmt.Sprintf("%s-%d", p, i); !have[tag] {
				t.Errorf("entry %s was lost", tag)
			}
		}
	}
	if len(ims) != len(prefixes)*n {
		t.Errorf("%d entries, want %d", len(ims), len(prefixes)*n)
	}
}

func TestUpdateIndexConcurrentHandles(t *testing.T) {
	d := newDir(t)
	const n = 40
	prefixes := []string{"g1", "g2", "g3"}
	var wg sync.WaitGroup
	for _, p := range prefixes {
		wg.Go(func() {
			if err := addEntries(d.Path(), p, n); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	assertEntries(t, d.Path(), prefixes, n)
}

const childEnv = "FERRY_LAYOUT_TEST_CHILD"

// The flock must also hold between processes: two children and the parent
// update one layout at once and no entry may be lost.
func TestUpdateIndexAcrossProcesses(t *testing.T) {
	if spec := os.Getenv(childEnv); spec != "" {
		path, prefix, _ := strings.Cut(spec, "|")
		if err := addEntries(path, prefix, 40); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	d := newDir(t)
	prefixes := []string{"parent", "child1", "child2"}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, p := range prefixes[1:] {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUpdateIndexAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+d.Path()+"|"+p)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	if err := addEntries(d.Path(), prefixes[0], 40); err != nil {
		t.Error(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i+1, err, outs[i])
		}
	}
	assertEntries(t, d.Path(), prefixes, 40)
}

func TestUpdateIndexErrorLeavesIndex(t *testing.T) {
	d := newDir(t)
	before := snapshot(t, d.Path())
	boom := errors.New("boom")
	err := d.UpdateIndex(context.Background(), func(ims []layout.Image) ([]layout.Image, error) {
		return append(ims, named(t, entry("x", nil), "x")), boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateIndex = %v, want the callback's error", err)
	}
	assertSnapshot(t, d.Path(), before)
}
