package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// pushReferrer pushes an artifact whose subject is subject, with a layer
// of its own (so gc has something to lose), and returns its manifest and
// layer.
func pushReferrer(t *testing.T, repo *remote.Repository, subject ocispec.Descriptor, kind string, pad int) (ocispec.Descriptor, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	put := func(mt string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := repo.Push(ctx, d, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	empty := put("application/vnd.oci.empty.v1+json", []byte("{}"))
	layer := put("application/vnd.example.payload", []byte(kind+" of "+subject.Digest.String()))
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example." + kind, Config: empty, Layers: []ocispec.Descriptor{layer}, Subject: &subject}
	if pad > 0 { // not in the manifest's annotations, which the fallback index copies
		m.Config.Annotations = map[string]string{"pad": strings.Repeat("x", pad)}
	}
	raw, _ := json.Marshal(m)
	return put(ocispec.MediaTypeImageManifest, raw), layer
}

// referrersAPI serves the referrers API in front of a registry that has
// none, from the fallback tag, so both ways of listing are exercised.
func referrersAPI(t *testing.T, reg *regtest.Registry) string {
	up, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, subject, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/referrers/")
		if !ok {
			rp.ServeHTTP(w, r)
			return
		}
		resp, err := http.Get("http://" + reg.Host + "/v2/" + name + "/manifests/" + remote.FallbackTag(digest.Digest(subject)))
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		if resp.StatusCode != http.StatusOK {
			io.WriteString(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
			return
		}
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestSeveralReferrers: three referrers of one image, two of a platform
// manifest under an index and one of a referrer all reach index.json, by
// the fallback tag and by the referrers API, and gc keeps every blob.
func TestSeveralReferrers(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1", "busybox:1.36"})
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, ims, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	bbRef, _ := layout.ParseRef(reg.Host + "/library/busybox:1.36")
	appRef, _ := layout.ParseRef(reg.Host + "/app:v1")
	bb, app := c.Repository(bbRef, true), c.Repository(appRef, true)
	want := map[digest.Digest]ocispec.Descriptor{} // referrer → its layer
	for _, kind := range []string{"sbom", "signature", "provenance"} {
		m, l := pushReferrer(t, bb, set.Single.Manifest, kind, 0)
		want[m.Digest] = l
	}
	var sbom ocispec.Descriptor
	for _, kind := range []string{"sbom", "signature"} {
		m, l := pushReferrer(t, app, set.ARM64.Manifest, kind, 0)
		want[m.Digest], sbom = l, m
	}
	m, l := pushReferrer(t, app, sbom, "signature-of-sbom", 0)
	want[m.Digest] = l

	for name, host := range map[string]string{"fallback tag": reg.Host, "referrers API": referrersAPI(t, reg)} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := sync.Pull(ctx, c, []string{host + "/library/busybox:1.36", host + "/app:v1"}, dir, sync.PullOptions{Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2+len(want) {
				t.Fatalf("pulled %d images, want %d", len(res), 2+len(want))
			}
			d, err := layout.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.GC(ctx, false); err != nil {
				t.Fatal(err)
			}
			entries, err := d.Images()
			if err != nil {
				t.Fatal(err)
			}
			listed := map[digest.Digest]bool{}
			for _, im := range entries {
				listed[im.Desc.Digest] = true
			}
			for m, l := range want {
				if !listed[m] {
					t.Errorf("referrer %s is not in index.json (%d entries)", m, len(entries))
				}
				for _, b := range []digest.Digest{m, l.Digest} {
					if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", b.Encoded())); err != nil {
						t.Errorf("gc deleted %s of referrer %s", b, m)
					}
				}
			}
			// Streamed into an archive, every referrer is an entry too.
			plan, err := sync.Resolve(ctx, c, []string{host + "/library/busybox:1.36", host + "/app:v1"}, sync.PullOptions{Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			tarPath := filepath.Join(t.TempDir(), "r.tar")
			if _, err := archive.Write(ctx, plan.Sources, plan.Images, tarPath, archive.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			inTar := map[digest.Digest]bool{}
			for _, im := range open(t, tarPath).Images {
				inTar[im.Desc.Digest] = true
			}
			for m := range want {
				if !inTar[m] {
					t.Errorf("referrer %s is not in the archive's index.json", m)
				}
			}
			// A second pull into the same layout adds no entry twice.
			if _, err := sync.Pull(ctx, c, []string{host + "/library/busybox:1.36", host + "/app:v1"}, dir, sync.PullOptions{Referrers: true}); err != nil {
				t.Fatal(err)
			}
			again, _ := d.Images()
			if len(again) != len(entries) {
				t.Fatalf("re-pull: %d entries, was %d", len(again), len(entries))
			}
		})
	}
}

// TestReferrerBytesCapped: a registry listing more referrer manifests than
// the cap allows makes the pull fail with ErrTooLarge, having fetched (and
// so held) no more than the cap; under the cap, the manifests the plan
// holds add up to what was listed.
func TestReferrerBytesCapped(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"busybox:1.36"})
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, ims, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	bbRef, _ := layout.ParseRef(reg.Host + "/library/busybox:1.36")
	bb := c.Repository(bbRef, true)
	const n, size = 8, 1 << 20
	for i := range n {
		pushReferrer(t, bb, set.Single.Manifest, "bulky"+string(rune('a'+i)), size)
	}
	// Count the bytes of referrer manifests the registry sends.
	var served atomic.Int64
	up, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.Contains(resp.Request.URL.Path, "/manifests/sha256:") && resp.ContentLength > size {
			served.Add(resp.ContentLength)
		}
		return nil
	}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	host := strings.TrimPrefix(proxy.URL, "http://")

	const limit = 3*size + size/2
	_, err := sync.Resolve(ctx, &remote.Client{}, []string{host + "/library/busybox:1.36"}, sync.PullOptions{Referrers: true, MaxReferrerBytes: limit})
	if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "referrers") {
		t.Fatalf("want ErrTooLarge about referrers, got %v", err)
	}
	if got := served.Load(); got > limit {
		t.Fatalf("fetched %d bytes of referrer manifests, over the %d cap", got, limit)
	}

	served.Store(0)
	plan, err := sync.Resolve(ctx, &remote.Client{}, []string{host + "/library/busybox:1.36"}, sync.PullOptions{Referrers: true, MaxReferrerBytes: (n + 1) * size * 11 / 10})
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, g := range plan.Graphs {
		for _, nd := range g.Nodes {
			held += int64(len(nd.Raw))
		}
	}
	if len(plan.Images) != n+1 || held < n*size || held > (n+1)*size*11/10 {
		t.Fatalf("%d images, %d bytes of manifests held", len(plan.Images), held)
	}
}

// TestTwoDigestsOfOneRepository: images pulled by digest alone from one
// repository each keep their index.json entry, as referrers do.
func TestTwoDigestsOfOneRepository(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	set := testimage.New(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"example.com/app:v1"})
	if _, err := sync.Push(ctx, &remote.Client{}, src, ims, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	refs := []string{reg.Host + "/app@" + set.AMD64.Manifest.Digest.String(), reg.Host + "/app@" + set.ARM64.Manifest.Digest.String()}
	if _, err := sync.Pull(ctx, &remote.Client{}, refs, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[digest.Digest]bool{}
	for _, im := range open(t, dir).Images {
		got[im.Desc.Digest] = true
	}
	if len(got) != 2 || !got[set.AMD64.Manifest.Digest] || !got[set.ARM64.Manifest.Digest] {
		t.Fatalf("index.json holds %v", got)
	}
}
