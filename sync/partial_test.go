package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// interruptedPull pulls bigImage's layer through a paced counter and
// cancels the pull (a Ctrl-C) once cut bytes were served; it returns the
// layout and the partial file the pull kept, with the bytes it claims.
func interruptedPull(t *testing.T, reg *regtest.Registry, layer ocispec.Descriptor, cut int64) (string, string, int64) {
	t.Helper()
	cnt := regtest.NewCounter(t, reg)
	cnt.PaceStreams(streamCap)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once gosync.Once
	cnt.OnServed(func(total int64) {
		if total >= cut {
			once.Do(cancel)
		}
	})
	dir := t.TempDir()
	_, err := sync.Pull(ctx, &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, dir, sync.PullOptions{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "kept in the layout") {
		t.Fatalf("want a cancelled pull that says it kept the layer's first bytes, got %v", err)
	}
	cnt.Settle()
	ents, _ := os.ReadDir(filepath.Join(dir, ".ferry", "partial"))
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), layer.Digest.Encoded()+".") {
		t.Fatalf("want one partial file of the layer, got %v", ents)
	}
	name := filepath.Join(dir, ".ferry", "partial", ents[0].Name())
	n, err := strconv.ParseInt(strings.TrimPrefix(ents[0].Name(), layer.Digest.Encoded()+"."), 10, 64)
	fi, serr := os.Stat(name)
	if err != nil || serr != nil || n < 1<<20 || n >= layer.Size || fi.Size() != n {
		t.Fatalf("partial %s: %d bytes claimed, %v held (%v)", ents[0].Name(), n, fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded())); err == nil {
		t.Fatal("the unfinished layer is in blobs/")
	}
	if got := open(t, dir); len(got.Images) != 0 {
		t.Fatalf("an interrupted pull wrote an entry: %v", got.Images)
	}
	return dir, name, n
}

// TestPullResumesPartialBlob: a pull cancelled in the middle of a large
// layer keeps the first bytes it verified, and the next pull into the
// same layout checks them again and fetches only the rest, saying so.
func TestPullResumesPartialBlob(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	dir, _, kept := interruptedPull(t, reg, layer, 24<<20)
	cnt := regtest.NewCounter(t, reg)
	res, err := sync.Pull(context.Background(), &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	if len(res) != 1 || len(res[0].Resumed) != 1 || res[0].Resumed[0].Digest != layer.Digest || res[0].Resumed[0].Kept != kept {
		t.Fatalf("want the layer reported resumed from %d bytes, got %+v", kept, res)
	}
	rest := layer.Size - kept + configSize(t, dir)
	if cnt.Served() > rest+1<<20 {
		t.Fatalf("served %d bytes to finish a layer of which %d were kept: more than the rest (%d)", cnt.Served(), kept, rest)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ".ferry", "partial")); len(ents) != 0 {
		t.Fatalf("the partial file is still there: %v", ents)
	}
}

// TestPullPartialChangedIsFetchedWhole: kept bytes that changed on disk
// since (a flipped byte) fail the digest; the pull then fetches the
// layer whole, once, and commits the registry's verified copy.
func TestPullPartialChangedIsFetchedWhole(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	dir, name, _ := interruptedPull(t, reg, layer, 24<<20)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, 1000)
	b[0] ^= 1
	f.WriteAt(b, 1000)
	f.Close()
	cnt := regtest.NewCounter(t, reg)
	res, err := sync.Pull(context.Background(), &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	if len(res[0].Resumed) != 0 {
		t.Fatalf("a layer completed from changed bytes is reported resumed: %+v", res[0].Resumed)
	}
	if cnt.Served() < layer.Size {
		t.Fatalf("served %d bytes of a %d-byte layer fetched whole again", cnt.Served(), layer.Size)
	}
}

// TestGCRemovesPartials: gc counts a kept partial among what it removes,
// and removes it; a dry run only counts it.
func TestGCRemovesPartials(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	dir, name, kept := interruptedPull(t, reg, layer, 24<<20)
	for _, dry := range []bool{true, false} {
		d, err := layout.CreateDir(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.GC(context.Background(), dry)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := res.Stale >= 1 && res.StaleBytes >= kept
		_, serr := os.Stat(name)
		if !found || dry == (serr != nil) {
			t.Fatalf("gc (dry run %v): %d stale, %d bytes (the partial holds %d); partial still there: %v", dry, res.Stale, res.StaleBytes, kept, serr == nil)
		}
	}
}

// TestPullPartialSurvivesFailedResume: a resumed pull that cannot reach
// the layer at all (the registry fails every GET of it) leaves the kept
// bytes as they were, for the try after.
func TestPullPartialSurvivesFailedResume(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	dir, name, _ := interruptedPull(t, reg, layer, 24<<20)
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Method: "GET", Path: "/blobs/" + layer.Digest.String(), Times: 1000, Kind: "500"})
	if _, err := sync.Pull(context.Background(), &remote.Client{Retries: 1}, []string{proxy.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err == nil {
		t.Fatal("a pull whose layer the registry refuses succeeded")
	}
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("the kept bytes are gone after a resume that fetched nothing: %v", err)
	}
}

// TestPullPartialHardLinkedLeftAlone: a partial name that is another
// file's hard link (a hostile layout) is not taken over: that file is
// neither truncated nor written, and the layer is fetched whole.
func TestPullPartialHardLinkedLeftAlone(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	dir, name, kept := interruptedPull(t, reg, layer, 24<<20)
	other := filepath.Join(t.TempDir(), "precious")
	want := make([]byte, kept+4096)
	for i := range want {
		want[i] = byte(i)
	}
	if err := os.WriteFile(other, want, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(name)
	if err := os.Link(other, name); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	res, err := sync.Pull(context.Background(), &remote.Client{}, []string{reg.Host + "/seed/big:v1"}, dir, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	if len(res[0].Resumed) != 0 {
		t.Fatalf("the layer was completed from a linked file: %+v", res[0].Resumed)
	}
	if got, _ := os.ReadFile(other); !bytes.Equal(got, want) {
		t.Fatalf("the linked file changed: %d bytes, was %d", len(got), len(want))
	}
}
