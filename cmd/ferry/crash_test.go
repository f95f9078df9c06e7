package main

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// TestMain lets crash tests run this binary as ferry itself.
func TestMain(m *testing.M) {
	if os.Getenv("FERRY_AS_MAIN") == "1" {
		os.Exit(runMain())
	}
	if p := os.Getenv(holdLockEnv); p != "" {
		os.Exit(holdLockMain(p))
	}
	os.Exit(m.Run())
}

// bigLayout is a layout whose import takes long enough to be killed in
// the middle: a few tens of MiB of random layers.
func bigLayout(t *testing.T) string {
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var ims []layout.Image
	for i := range 4 {
		desc, err := txn.Ingest(context.Background(), io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), 12<<20), "")
		if err != nil {
			t.Fatal(err)
		}
		desc.MediaType = ocispec.MediaTypeImageLayer
		r, _ := layout.ParseRef("example.com/big:" + string(rune('a'+i)))
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(manifestWith(t, txn, desc), r)})
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	return dir
}

func manifestWith(t *testing.T, txn *layout.Txn, l ocispec.Descriptor) ocispec.Descriptor {
	cfg := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, []byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["`+l.Digest.String()+`"]}}`))
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfg.Digest.String() + `","size":` + strconv.FormatInt(cfg.Size, 10) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` +
		l.Digest.String() + `","size":` + strconv.FormatInt(l.Size, 10) + `}]}`
	return testimage.Put(t, txn, ocispec.MediaTypeImageManifest, []byte(m))
}

// TestKilledImportLeavesValidLayout kills ferry import at several moments
// (SIGKILL: no cleanup runs) and checks the destination is always a valid
// layout that verify accepts, holding either nothing new or everything,
// and that gc then removes the staging the dead process left.
func TestKilledImportLeavesValidLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes; slow")
	}
	src := bigLayout(t)
	set := testimage.New(t)
	for _, delay := range []time.Duration{5, 20, 60, 80, 100, 120, 150, 400} {
		dst := filepath.Join(t.TempDir(), "dst")
		if code, _, errs := ferry(t, "import", set.Dir, "busybox:1.36", "--into", dst); code != 0 {
			t.Fatal(errs)
		}
		cmd := exec.Command(os.Args[0], "import", src, "--into", dst)
		cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		code, out, _ := ferry(t, "verify", "--json", dst)
		if code != 0 {
			t.Fatalf("after a kill at %v the layout does not verify:\n%s", delay*time.Millisecond, out)
		}
		n := strings.Count(out, `"example.com/big:`)
		t.Logf("killed after %v: %d of 4 images published", delay*time.Millisecond, n)
		if n != 0 && n != 4 {
			t.Fatalf("kill at %v: %d of 4 images published", delay*time.Millisecond, n)
		}
		if code, _, errs := ferry(t, "gc", dst); code != 0 {
			t.Fatal(errs)
		}
		if ents, _ := os.ReadDir(filepath.Join(dst, ".ferry", "tmp")); len(ents) != 0 {
			t.Fatalf("gc left staging behind: %v", ents)
		}
	}
}
