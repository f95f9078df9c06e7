package sync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
