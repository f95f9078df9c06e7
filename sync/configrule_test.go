package sync_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
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
	"github.com/oci-ferry/ferry/verify"
)

// TestPullJudgesConfigsAsVerify: pull takes content in, so it applies the
// config rule import and verify apply. A signature whose config names no
// os (as cosign writes it) is pulled and then verifies; a runnable image
// without one is refused by the pull, naming its manifest, and nothing is
// named in the layout.
func TestPullJudgesConfigsAsVerify(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	c := &remote.Client{}
	push := func(name, layerMT string) digest.Digest {
		dir := t.TempDir()
		d, err := layout.CreateDir(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		txn := d.Begin()
		layer := testimage.LayerTar("a.txt", name)
		ld := testimage.Put(t, txn, layerMT, layer)
		cfg, _ := json.Marshal(map[string]any{"architecture": "", "os": "", "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(layer)}}})
		cd := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, cfg)
		m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}})
		md := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, m)
		ref, _ := layout.ParseRef(reg.Host + "/" + name + ":1")
		if err := txn.Commit(ctx, nil, []layout.Image{{Ref: ref, Desc: layout.Annotate(md, ref)}}); err != nil {
			t.Fatal(err)
		}
		src, err := archive.Open(ctx, dir, archive.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if _, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		return md.Digest
	}
	sig := push("signature", "application/vnd.dev.cosign.simplesigning.v1+json")
	bad := push("runnable", ocispec.MediaTypeImageLayer)

	dir := filepath.Join(t.TempDir(), "pulled")
	if _, err := sync.Pull(ctx, c, []string{reg.Host + "/signature:1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatalf("pull of a signature image: %v", err)
	}
	src, err := archive.Open(ctx, dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := verify.Check(ctx, src, src.Images, nil, verify.Options{})
	src.Close()
	if !rep.OK || len(rep.Images) != 1 || rep.Images[0].Digest != sig.String() {
		t.Fatalf("verify of the pulled signature: %+v", rep)
	}

	_, err = sync.Pull(ctx, c, []string{reg.Host + "/runnable:1"}, dir, sync.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), "os or architecture") {
		t.Fatalf("pull of a runnable image without os: %v", err)
	}
	d, err := layout.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ims, _ := d.Images()
	if len(ims) != 1 || ims[0].Desc.Digest != sig {
		t.Fatalf("a refused pull named something: %+v", ims)
	}
}
