package testimage

import (
	"context"
	"encoding/json"
	"io"
	mrand "math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// zeros4GiB is the sha256 of 4 GiB of zero bytes (4,294,967,296), worked
// out once with sha256sum: hashing it takes seconds a test need not spend.
const zeros4GiB = "sha256:8479e43911dc45e89f934fe48d01297e16f51d17aa561d4d1c216b1ae0fcddca"

// Sparse is a layout holding one image, name, whose single layer is size
// zero bytes kept as a sparse file: an image as large as FAT32 refuses,
// for tests that must be refused before a byte is written (a sparse blob
// costs no disk, but reading it does cost time).
func Sparse(t testing.TB, name string, size int64) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	var dg digest.Digest
	if size == 4<<30 {
		dg = zeros4GiB
	} else {
		var err error
		if dg, err = digest.SHA256.FromReader(io.LimitReader(zeroReader{}, size)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	blob := filepath.Join(dir, "blobs", "sha256", dg.Encoded())
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	txn := d.Begin()
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: dg, Size: size}
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{dg}}})
	config := Put(t, txn, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}})
	man := Put(t, txn, ocispec.MediaTypeImageManifest, m)
	r, err := layout.ParseRef(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, nil, []layout.Image{{Ref: r, Desc: layout.Annotate(man, r)}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// Noisy is a layout holding one image, name, whose one layer is size bytes
// of incompressible noise from seed: big enough to cut into volumes or to
// watch a compressor give nothing, small enough for every test.
func Noisy(t testing.TB, name string, size int, seed int64) string {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	b := make([]byte, size)
	mrand.New(mrand.NewSource(seed)).Read(b)
	im := Build(t, txn, "amd64", string(b))
	r, err := layout.ParseRef(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: r, Desc: layout.Annotate(im.Manifest, r)}}); err != nil {
		t.Fatal(err)
	}
	return dir
}
