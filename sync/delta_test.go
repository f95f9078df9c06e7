package sync_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// baseRegistry is a real registry holding release 1 under reg.Host/….
func baseRegistry(t *testing.T, r *testimage.Releases) *regtest.Registry {
	t.Helper()
	reg := regtest.Start(t)
	src := open(t, r.R1)
	if _, err := sync.Push(context.Background(), &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host, SkipUnnamed: true}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func writeDelta(t *testing.T, r *testimage.Releases, have *layout.HaveList) string {
	t.Helper()
	src := open(t, r.R2)
	p := filepath.Join(t.TempDir(), "delta.tar")
	if _, err := archive.Write(context.Background(), src, src.Images, p, archive.WriteOptions{Have: have}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeltaPushToBase: a delta of release 2 pushed to a registry that has
// release 1 completes it: release 2 pulls back whole, every digest kept,
// and the blobs the delta left out were never sent.
func TestDeltaPushToBase(t *testing.T) {
	ctx := context.Background()
	r := testimage.TwoReleases(t)
	reg := baseRegistry(t, r)
	delta := open(t, writeDelta(t, r, r.Have))
	v2, err := archive.Select(delta.Images, []string{r.V2Ref})
	if err != nil {
		t.Fatal(err)
	}
	c := &remote.Client{}
	res, err := sync.Push(ctx, c, delta, v2, sync.PushOptions{To: reg.Host})
	if err != nil {
		t.Fatalf("push of a delta to its base: %v", err)
	}
	// New: the index, the arm64 manifest, its config and layer. The amd64
	// manifest, config and layer were left out and are already there.
	if len(res) != 1 || res[0].Blobs != 4 || res[0].Skipped != 3 {
		t.Fatalf("pushed %+v, want 4 blobs sent and 3 skipped", res)
	}
	dir := t.TempDir()
	if _, err := sync.Pull(ctx, c, []string{reg.Host + "/app:v2"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulled := open(t, dir)
	if pulled.Images[0].Desc.Digest != v2[0].Desc.Digest {
		t.Fatalf("pulled %s, pushed %s", pulled.Images[0].Desc.Digest, v2[0].Desc.Digest)
	}
	if rep := verify.Check(ctx, pulled, pulled.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("release 2 pulled back from the registry does not verify: %+v", rep.Problems)
	}
}

// TestDeltaPushRefusesLyingHaveList: a delta cut against a have-list that
// names a blob the registry lacks is refused before anything is sent,
// naming the blob and the image.
func TestDeltaPushRefusesLyingHaveList(t *testing.T) {
	ctx := context.Background()
	r := testimage.TwoReleases(t)
	reg := baseRegistry(t, r)
	r.Have.Add(r.V2.Layer.Digest, r.V2.Layer.Size)
	delta := open(t, writeDelta(t, r, r.Have))
	c := &remote.Client{}
	_, err := sync.Push(ctx, c, delta, delta.Images, sync.PushOptions{To: reg.Host, SkipUnnamed: true})
	var ae *archive.AbsentError
	if !errors.As(err, &ae) {
		t.Fatalf("push of a delta whose base lacks a blob: %v, want an AbsentError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, r.V2.Layer.Digest.String()) || !strings.Contains(msg, r.V2Ref) {
		t.Errorf("error does not name the blob and the image: %s", msg)
	}
	ref, _ := layout.ParseRef(reg.Host + "/app:v2")
	repo := c.Repository(ref, false)
	for _, d := range []ocispec.Descriptor{r.V2.Config, r.V2.Manifest} {
		if ok, err := repo.Exists(ctx, d); err != nil || ok {
			t.Errorf("%s reached the registry (exists %v, %v) though the push was refused", d.Digest, ok, err)
		}
	}
	if _, err := repo.Resolve(ctx, "v2"); err == nil {
		t.Error("the refused push tagged app:v2")
	}
}

// TestDeltaPull: a pull with a have-list writes a delta holding only what
// the list does not name, and fetches none of the configs and layers it
// leaves out (a left-out manifest is read once, to know what is under it).
func TestDeltaPull(t *testing.T) {
	ctx := context.Background()
	r := testimage.TwoReleases(t)
	reg := regtest.Start(t)
	src := open(t, r.R2)
	c := &remote.Client{}
	if _, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host, SkipUnnamed: true}); err != nil {
		t.Fatal(err)
	}
	// Count the GETs of each blob: none of those left out may be fetched.
	a := r.Set.AMD64
	watch := []ocispec.Descriptor{a.Manifest, a.Config, a.Layer, r.V2.Layer}
	var faults []regtest.Fault
	for _, d := range watch {
		faults = append(faults, regtest.Fault{Method: "GET", Path: d.Digest.String(), Times: 1 << 20, Kind: "count"})
	}
	proxy := regtest.NewProxy(t, reg, faults...)
	p := filepath.Join(t.TempDir(), "pulled-delta.tar")
	got, err := sync.Copy(ctx, c, sync.Endpoint{Kind: sync.Registry, Names: []string{proxy.Host + "/app:v2"}}, sync.PathEndpoint(p), sync.CopyOptions{Have: r.Have})
	if err != nil {
		t.Fatal(err)
	}
	if got.Written.Delta == nil || got.Written.Delta.LeftOut != 3 || got.Written.Blobs != 5 {
		t.Fatalf("pulled delta: %+v, %+v; want 3 left out, 4 blobs and the record", got.Written, got.Written.Delta)
	}
	// The left-out manifest is read once, to learn exactly what lies
	// under it (the record must list it); its config and layer are not.
	if n := proxy.Hits(0); n > 1 {
		t.Errorf("left-out manifest fetched %d times", n)
	}
	for i, d := range watch[1:3] {
		if n := proxy.Hits(i + 1); n != 0 {
			t.Errorf("left-out %s %s was fetched %d time(s)", d.MediaType, d.Digest, n)
		}
	}
	if n := proxy.Hits(3); n != 1 {
		t.Errorf("the new layer was fetched %d time(s), want 1", n)
	}
	d, err := open(t, p).Delta(ctx)
	if err != nil || d == nil || len(d.LeftOut) != 3 {
		t.Fatalf("pulled delta's record: %v, %v", d, err)
	}
	if _, err := sync.Copy(ctx, c, sync.Endpoint{Kind: sync.Registry, Names: []string{reg.Host + "/app:v2"}}, sync.PathEndpoint(t.TempDir()), sync.CopyOptions{Have: r.Have}); err == nil {
		t.Error("a have-list into a layout directory was accepted")
	}
}

// TestDeltaPushMountsFromSiblings: a delta pushed to a repository of the
// registry its have-list describes, but not the one that holds release 1,
// is completed from the registry's other repositories: the left-out blobs
// are mounted (POST ?mount=&from=, nothing sent), the left-out manifest
// is copied from where it is, and release 2 pulls back whole. Without the
// have-list's repositories to look in, the push is refused as before,
// having written nothing.
func TestDeltaPushMountsFromSiblings(t *testing.T) {
	ctx := context.Background()
	r := testimage.TwoReleases(t)
	reg := baseRegistry(t, r)
	// Everything goes through one name of the registry, the have-list
	// too: its names say which registry it describes.
	host, requests := recording(t, reg)
	c := &remote.Client{}
	listed, _, err := sync.RegistryHave(ctx, c, []layout.Ref{{Repo: host + "/app"}, {Repo: host + "/library/busybox"}}, sync.HaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := listed.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	have, err := layout.ReadHaveList(strings.NewReader(buf.String()), "have.json")
	if err != nil {
		t.Fatal(err)
	}
	delta := open(t, writeDelta(t, r, have))
	v2, err := archive.Select(delta.Images, []string{r.V2Ref})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sync.Push(ctx, c, delta, v2, sync.PushOptions{To: host + "/mirror"})
	var ae *archive.AbsentError
	if !errors.As(err, &ae) {
		t.Fatalf("push without the have-list to a repository lacking release 1: %v, want an AbsentError", err)
	}
	ref, _ := layout.ParseRef(reg.Host + "/mirror/app:v2")
	if ok, _ := c.Repository(ref, false).Exists(ctx, r.Set.AMD64.Layer); ok {
		t.Fatal("a refused push mounted a blob")
	}
	if _, err := sync.Push(ctx, c, delta, v2, sync.PushOptions{To: host + "/mirror", Have: &layout.HaveList{Digest: digest.FromString("another list")}}); err == nil || !strings.Contains(err.Error(), "not the one this delta was cut against") {
		t.Fatalf("push with another have-list: %v", err)
	}

	before := len(requests())
	res, err := sync.Push(ctx, &remote.Client{}, delta, v2, sync.PushOptions{To: host + "/mirror", Have: have})
	if err != nil {
		t.Fatalf("push with the have-list: %v", err)
	}
	mounted := 0
	for _, s := range requests()[before:] {
		if strings.HasPrefix(s, "POST ") && strings.Contains(s, "mount=") {
			mounted++
		}
		for _, d := range []ocispec.Descriptor{r.Set.AMD64.Layer, r.Set.AMD64.Config} {
			if (strings.HasPrefix(s, "PUT ") || strings.HasPrefix(s, "PATCH ")) && strings.Contains(s, d.Digest.Encoded()) {
				t.Errorf("left-out blob %s was sent: %s", d.Digest, s)
			}
		}
	}
	if mounted != 2 {
		t.Errorf("%d mounts, want 2 (the amd64 config and layer): %q", mounted, requests())
	}
	t.Logf("pushed %+v", res)
	pullBack(t, c, reg.Host+"/mirror/app:v2", v2[0].Desc.Digest)

	// A registry that will not mount answers 202 and opens an upload:
	// that session is cancelled, and the blob is copied from the
	// repository it was found in. Here the mount is stripped from the
	// request on its way, so the real registry does just that.
	noMount, seen := recording(t, reg, "mount", "from")
	if _, err := sync.Push(ctx, &remote.Client{}, delta, v2, sync.PushOptions{To: noMount + "/other", Have: have}); err == nil {
		t.Fatal("the have-list names another registry's repositories, yet the push found the blobs")
	}
	listed, _, err = sync.RegistryHave(ctx, c, []layout.Ref{{Repo: noMount + "/app"}}, sync.HaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	listed.Encode(&buf)
	if have, err = layout.ReadHaveList(strings.NewReader(buf.String()), "have.json"); err != nil {
		t.Fatal(err)
	}
	delta = open(t, writeDelta(t, r, have))
	if v2, err = archive.Select(delta.Images, []string{r.V2Ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := sync.Push(ctx, &remote.Client{}, delta, v2, sync.PushOptions{To: noMount + "/other", Have: have}); err != nil {
		t.Fatalf("push where mounts are refused: %v", err)
	}
	cancelled := 0
	for _, s := range seen() {
		if strings.HasPrefix(s, "DELETE ") && strings.Contains(s, "/blobs/uploads/") {
			cancelled++
		}
	}
	if cancelled < 2 {
		t.Errorf("%d upload sessions cancelled, want one per refused mount (2): %q", cancelled, seen())
	}
	pullBack(t, c, reg.Host+"/other/app:v2", v2[0].Desc.Digest)
}

// pullBack pulls ref and checks it is want and verifies whole.
func pullBack(t *testing.T, c *remote.Client, ref string, want digest.Digest) {
	t.Helper()
	dir := t.TempDir()
	if _, err := sync.Pull(context.Background(), c, []string{ref}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulled := open(t, dir)
	if pulled.Images[0].Desc.Digest != want {
		t.Fatalf("pulled %s, pushed %s", pulled.Images[0].Desc.Digest, want)
	}
	if rep := verify.Check(context.Background(), pulled, pulled.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("%s pulled back does not verify: %+v", ref, rep.Problems)
	}
}

// recording is a pass-through to reg that lists every request it sees as
// "METHOD URI", and drops the query parameters strip from each.
func recording(t *testing.T, reg *regtest.Registry, strip ...string) (string, func() []string) {
	up, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(up)
	var mu gosync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		if len(strip) > 0 {
			q := r.URL.Query()
			for _, k := range strip {
				q.Del(k)
			}
			r.URL.RawQuery = q.Encode()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
