package sync_test

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// TestVolumesThroughTheRegistry: a pull from the real registry into a
// volume set cuts a layer bigger than a volume, the set verifies, and a
// push from the set (named by its first volume, and by its directory)
// puts back the very manifests and blobs, read across the volumes in
// place.
func TestVolumesThroughTheRegistry(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir := t.TempDir()
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin()
	b := make([]byte, 400<<10)
	rand.New(rand.NewSource(2)).Read(b)
	im := testimage.Build(t, txn, "amd64", string(b))
	r, _ := layout.ParseRef("example.com/vol:1")
	if err := txn.Commit(ctx, nil, []layout.Image{{Ref: r, Desc: layout.Annotate(im.Manifest, r)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	src := open(t, dir)
	c := &remote.Client{}
	pushed, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ref := pushed[0].Target
	copied, err := sync.Copy(ctx, c, sync.Endpoint{Kind: sync.Registry, Names: []string{ref}},
		sync.PathEndpoint(filepath.Join(out, "pulled.tar")), sync.CopyOptions{VolumeSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	vols := copied.Written.Volumes
	if len(vols) < 4 {
		t.Fatalf("volumes %v", vols)
	}
	for _, v := range vols {
		if fi, err := os.Stat(v); err != nil || fi.Size() > 128<<10 {
			t.Fatalf("%s: %v", v, err)
		}
	}
	set := open(t, vols[0])
	if rep := verify.Check(ctx, set, set.Images, &verify.Report{Path: vols[0]}, verify.Options{}); !rep.OK {
		t.Fatalf("%+v", rep.Problems)
	}
	for i, from := range []sync.Endpoint{sync.ParseEndpoint("oci-archive:" + vols[0]), sync.ParseEndpoint("oci:" + out)} {
		to := reg.Host + []string{"/again", "/fromdir"}[i]
		res, err := sync.Copy(ctx, c, from, sync.Endpoint{Kind: sync.Registry, Names: []string{to}}, sync.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Pushed) != 1 || res.Pushed[0].Digest != im.Manifest.Digest {
			t.Fatalf("pushed %+v, want %s", res.Pushed, im.Manifest.Digest)
		}
		back := t.TempDir()
		if _, err := sync.Pull(ctx, c, []string{res.Pushed[0].Target}, back, sync.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(back, "blobs", "sha256", im.Layer.Digest.Encoded()))
		if err != nil || string(got) != string(testimage.LayerTar("hello.txt", string(b))) {
			t.Fatalf("the layer did not come back byte-identical: %v", err)
		}
	}
}
