package sync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/s3test"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/sync/s3"
	"github.com/oci-ferry/ferry/verify"
)

// bucketServer starts an S3 server with a bucket and the AWS variables
// set to its credentials, and the options that reach it.
func bucketServer(t *testing.T) (*s3test.Server, sync.CopyOptions) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Bucket(t, "ferry-route")
	srv.Env(t)
	return srv, sync.CopyOptions{S3: s3.Config{Endpoint: srv.URL(), PathStyle: true}}
}

// sameBlobs fails unless every blob of want is in dir byte for byte.
func sameBlobs(t *testing.T, want, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(want, "blobs", "sha256", "*"))
	if len(files) == 0 {
		t.Fatal("no blobs to compare")
	}
	for _, f := range files {
		w, _ := os.ReadFile(f)
		g, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", filepath.Base(f)))
		if err != nil || !bytes.Equal(w, g) {
			t.Errorf("blob %s did not come back byte-identical (%v)", filepath.Base(f), err)
		}
	}
}

// TestCopyThroughBucket: a layout into a bucket and back out into
// another directory keeps every blob byte for byte and every name, and
// the copy verifies; one image is picked out by s3://B/P:NAME.
func TestCopyThroughBucket(t *testing.T) {
	ctx := context.Background()
	srv, opts := bucketServer(t)
	set := testimage.New(t)
	res, err := sync.Copy(ctx, nil, sync.ParseEndpoint(set.Dir), sync.ParseEndpoint("s3://ferry-route/mirror/x"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored == nil || res.Stored.Uploaded != set.TotalBlobs || res.Result() != res.Stored {
		t.Fatalf("copy into the bucket reported %+v", res.Stored)
	}
	sameBlobs(t, set.Dir, filepath.Join(srv.Dir, "ferry-route", "mirror", "x"))
	dir := filepath.Join(t.TempDir(), "back")
	back, err := sync.Copy(ctx, nil, sync.ParseEndpoint("s3://ferry-route/mirror/x"), sync.PathEndpoint(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Pulled) != 4 {
		t.Fatalf("copied back %d images, want 4", len(back.Pulled))
	}
	sameBlobs(t, set.Dir, dir)
	got := open(t, dir)
	if rep := verify.Check(ctx, got, got.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("the layout copied back does not verify: %+v", rep.Problems)
	}
	for _, name := range set.Names {
		if _, err := got.Resolve(ctx, name); err != nil {
			t.Errorf("%s lost on the way: %v", name, err)
		}
	}
	one := filepath.Join(t.TempDir(), "one")
	if _, err := sync.Copy(ctx, nil, sync.ParseEndpoint("s3://ferry-route/mirror/x:busybox:1.36"), sync.PathEndpoint(one), opts); err != nil {
		t.Fatal(err)
	}
	if ims := open(t, one).Images; len(ims) != 1 || ims[0].Desc.Digest != set.Single.Manifest.Digest {
		t.Fatalf("s3://…:busybox:1.36 copied %v", ims)
	}
}

// TestBucketCorruptObjectRefused: an object changed in the bucket (same
// size, one byte flipped) is refused on the way out, and the error names
// the blob, the image and the bucket; the destination names nothing.
func TestBucketCorruptObjectRefused(t *testing.T) {
	ctx := context.Background()
	srv, opts := bucketServer(t)
	set := testimage.New(t)
	if _, err := sync.Copy(ctx, nil, sync.ParseEndpoint(set.Dir), sync.ParseEndpoint("s3://ferry-route/lay"), opts); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(srv.Dir, "ferry-route", "lay", "blobs", "sha256", set.ARM64.Layer.Digest.Encoded())
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	_, err = sync.Copy(ctx, nil, sync.ParseEndpoint("s3://ferry-route/lay:example.com/app:v1"), sync.PathEndpoint(dir), opts)
	if !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("a corrupt object gave %v, want a digest mismatch", err)
	}
	for _, want := range []string{set.ARM64.Layer.Digest.String(), "example.com/app:v1", "s3://ferry-route/lay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if d, err := layout.OpenDir(dir); err == nil {
		if ims, _ := d.Images(); len(ims) != 0 {
			t.Fatalf("the destination names %v after a refused copy", ims)
		}
		d.Close()
	}
	// Into an archive and into a registry, the same object is refused too.
	if _, err := sync.Copy(ctx, nil, sync.ParseEndpoint("s3://ferry-route/lay"), sync.PathEndpoint(filepath.Join(t.TempDir(), "a.tar")), opts); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Fatalf("into an archive: %v", err)
	}
}

// TestRegistryThroughBucket: pull --to s3:// and copy s3:// REGISTRY:
// from a registry into a bucket, and from the bucket into another
// registry, digests unchanged.
func TestRegistryThroughBucket(t *testing.T) {
	ctx := context.Background()
	_, opts := bucketServer(t)
	reg := regtest.Start(t)
	set := testimage.New(t)
	c := &remote.Client{}
	if _, err := sync.Copy(ctx, c, sync.ParseEndpoint(set.Dir), sync.ParseEndpoint("docker://"+reg.Host+"/src"), opts); err != nil {
		t.Fatal(err)
	}
	from := sync.Endpoint{Kind: sync.Registry, Names: []string{reg.Host + "/src/app:v1"}}
	res, err := sync.Copy(ctx, c, from, sync.PathEndpoint("s3://ferry-route/pulled"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pulled) != 1 || res.Pulled[0].Digest != set.Index.Digest || res.Stored == nil || res.Stored.Images[0].Digest != set.Index.Digest {
		t.Fatalf("pull into the bucket: %+v %+v", res.Pulled, res.Stored)
	}
	pushed, err := sync.Copy(ctx, c, sync.ParseEndpoint("s3://ferry-route/pulled"), sync.ParseEndpoint("docker://"+reg.Host+"/dst/app:v1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed.Pushed) != 1 || pushed.Pushed[0].Digest != set.Index.Digest {
		t.Fatalf("push from the bucket: %+v", pushed.Pushed)
	}
}

// TestParseS3Endpoint: s3://BUCKET/PREFIX is a bucket whatever exists
// locally, and what follows the first ':' names an image.
func TestParseS3Endpoint(t *testing.T) {
	for in, want := range map[string]sync.Endpoint{
		"s3://b/p/q":                 {Kind: sync.S3, Path: "s3://b/p/q"},
		"s3://b":                     {Kind: sync.S3, Path: "s3://b"},
		"s3://b/p:busybox:1.36":      {Kind: sync.S3, Path: "s3://b/p", Names: []string{"busybox:1.36"}},
		"s3://b/p:example.com/a@sha": {Kind: sync.S3, Path: "s3://b/p", Names: []string{"example.com/a@sha"}},
	} {
		got := sync.ParseEndpoint(in)
		if got.Kind != want.Kind || got.Path != want.Path || strings.Join(got.Names, ",") != strings.Join(want.Names, ",") {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", in, got, want)
		}
	}
	if e := sync.PathEndpoint("s3://b/p"); e.Kind != sync.S3 || e.Path != "s3://b/p" {
		t.Errorf("PathEndpoint(s3://b/p) = %+v", e)
	}
}

// TestSparseThroughBucket: with --platform the index goes into the bucket
// byte for byte with one platform's content, and comes back out the same
// way (a sparse layout, as a pull with --platform writes), digest unchanged.
func TestSparseThroughBucket(t *testing.T) {
	ctx := context.Background()
	srv, opts := bucketServer(t)
	set := testimage.New(t)
	in := opts
	in.Platforms = []ocispec.Platform{{OS: "linux", Architecture: "amd64"}}
	if _, err := sync.Copy(ctx, nil, sync.ParseEndpoint("oci:"+set.Dir+":example.com/app:v1"), sync.ParseEndpoint("s3://ferry-route/sparse"), in); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "ferry-route", "sparse", "blobs", "sha256", set.ARM64.Layer.Digest.Encoded())); err == nil {
		t.Fatal("the arm64 layer went into the bucket")
	}
	dir := filepath.Join(t.TempDir(), "out")
	res, err := sync.Copy(ctx, nil, sync.ParseEndpoint("s3://ferry-route/sparse"), sync.PathEndpoint(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pulled) != 1 || res.Pulled[0].Digest != set.Index.Digest {
		t.Fatalf("copied %+v", res.Pulled)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", set.AMD64.Layer.Digest.Encoded())); err != nil {
		t.Fatal("the amd64 layer did not come back")
	}
}
