package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
)

// pushSource is a layout of six one-layer images, about 3 MiB, and every
// descriptor of each image (manifest, config, layer).
func pushSource(t *testing.T) (string, []layout.Image, map[digest.Digest][]ocispec.Descriptor) {
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var ims []layout.Image
	for i := range 6 {
		desc, err := txn.Ingest(context.Background(), io.LimitReader(rand.NewChaCha8([32]byte{byte(i), 9}), int64(200<<10+i*120<<10)), "")
		if err != nil {
			t.Fatal(err)
		}
		desc.MediaType = ocispec.MediaTypeImageLayer
		r, _ := layout.ParseRef("example.com/res:" + string(rune('a'+i)))
		ims = append(ims, layout.Image{Ref: r, Desc: layout.Annotate(manifestWith(t, txn, desc), r)})
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	descs := map[digest.Digest][]ocispec.Descriptor{}
	for _, im := range ims {
		g, err := layout.Walk(context.Background(), d, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		descs[im.Desc.Digest] = g.Descriptors()
	}
	return dir, ims, descs
}

// head asks the registry itself (not the proxy) what it holds.
func head(t *testing.T, host, repo, kind, ref string) (bool, int64, digest.Digest) {
	req, _ := http.NewRequest(http.MethodHead, "http://"+host+"/v2/"+repo+"/"+kind+"/"+ref, nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest+", "+ocispec.MediaTypeImageIndex)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.ContentLength, digest.Digest(resp.Header.Get("Docker-Content-Digest"))
}

// TestPushResumesAfterKill kills ferry push with SIGKILL once the registry
// has received a random number of bytes (20 offsets), through a proxy that
// counts them. After every kill no tag may name an image the registry
// does not hold whole; the re-run must complete with every tag on the
// right digest, and must send exactly the blobs and manifests the
// registry lacked (bytes and requests counted), leaving tags already
// right alone. An interrupted upload is started again: the upload session
// died with the process that knew its URL.
func TestPushResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	src, ims, descs := pushSource(t)
	reg := regtest.Start(t)
	proxy := regtest.NewCounter(t, reg)
	if code, _, errs := ferry(t, "push", src, "--to", proxy.Host+"/ref"); code != 0 {
		t.Fatal(errs)
	}
	full := proxy.Bytes()
	// check says what the registry lacks of the images, and which tags it
	// has; a tag must name the right digest, and an image it names must be
	// there whole (manifests and tags come only after blobs).
	check := func(repo string) (missing int64, sends int, tagged map[string]bool) {
		tagged = map[string]bool{}
		seen := map[digest.Digest]bool{}
		for _, im := range ims {
			whole := true
			for _, d := range descs[im.Desc.Digest] {
				kind := "blobs"
				if layout.IsManifest(d.MediaType) || layout.IsIndex(d.MediaType) {
					kind = "manifests"
				}
				if ok, n, _ := head(t, reg.Host, repo, kind, d.Digest.String()); !ok || n != d.Size {
					whole = false
					if !seen[d.Digest] {
						missing += d.Size
						sends++
					}
				}
				seen[d.Digest] = true
			}
			ok, _, dg := head(t, reg.Host, repo, "manifests", im.Ref.Tag)
			if !ok {
				continue
			}
			if dg != im.Desc.Digest || !whole {
				t.Fatalf("%s:%s names %s (want %s), whole: %v", repo, im.Ref.Tag, dg, im.Desc.Digest, whole)
			}
			tagged[im.Ref.Tag] = true
		}
		return missing, sends, tagged
	}
	if m, _, tags := check("ref/res"); m != 0 || len(tags) != len(ims) {
		t.Fatalf("the uninterrupted push left %d bytes missing, %d tags", m, len(tags))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	resumed := 0
	for i := range 20 {
		at := rng.Int64N(full)
		repo := "r" + strconv.Itoa(i)
		cmd := exec.Command(os.Args[0], "push", src, "--to", proxy.Host+"/"+repo)
		cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
		var child atomic.Pointer[os.Process]
		proxy.Reset()
		proxy.OnBytes(func(total int64) {
			if p := child.Load(); total > at && p != nil {
				p.Kill()
			}
		})
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		child.Store(cmd.Process)
		cmd.Wait()
		proxy.Settle()
		proxy.OnBytes(nil)
		missing, sends, tags := check(repo + "/res")
		rootThere := map[string]bool{}
		for _, im := range ims {
			rootThere[im.Ref.Tag], _, _ = head(t, reg.Host, repo+"/res", "manifests", im.Desc.Digest.String())
		}
		proxy.Reset()
		if code, _, errs := ferry(t, "push", src, "--to", proxy.Host+"/"+repo); code != 0 {
			t.Fatalf("kill at byte %d: re-run: %s", at, errs)
		}
		got, gotSends := proxy.Bytes(), proxy.Sends()
		if m, _, tagsNow := check(repo + "/res"); m != 0 || len(tagsNow) != len(ims) {
			t.Fatalf("kill at byte %d: after the re-run %d bytes missing, %d of %d tags right", at, m, len(tagsNow), len(ims))
		}
		// Tags already right are not put again; a manifest the registry
		// has without its tag costs one PUT by tag; a missing one goes
		// by its tag, its one PUT counted with what the registry lacked.
		var tagBytes int64
		tagSends := 0
		for _, im := range ims {
			if !tags[im.Ref.Tag] && rootThere[im.Ref.Tag] {
				tagBytes += im.Desc.Size
				tagSends++
			}
		}
		wantSends := sends + tagSends
		if got != missing+tagBytes || len(gotSends) != wantSends {
			t.Fatalf("kill at byte %d: the re-run sent %d bytes in %d requests (%v); the registry lacked %d bytes in %d, plus %d tags", at, got, len(gotSends), gotSends, missing, sends, len(ims)-len(tags))
		}
		if missing < full {
			resumed++
		}
		t.Logf("killed at byte %d of %d: re-run sent %d bytes in %d requests", at, full, got, len(gotSends))
	}
	if resumed < 10 {
		t.Fatalf("only %d of 20 kills left anything on the registry: the test proves little", resumed)
	}
}
