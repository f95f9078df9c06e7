package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/internal/s3test"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/oci-ferry/ferry/sync/s3"
)

func TestConformance(t *testing.T) {
	srv, b := bucket(t)
	newStore := func(t *testing.T) layout.Store { st, _ := open(t, srv, b, s3.Config{}); return st }
	storetest.Writable(t, newStore)
	storetest.ReadOnly(t, func(t *testing.T) storetest.Opened {
		st, _ := open(t, srv, b, s3.Config{})
		return storetest.Opened{Store: st, Present: storetest.PushSome(t, st)}
	})
	set := testimage.New(t)
	st, _ := open(t, srv, b, s3.Config{})
	src := source(t, set.Dir)
	if _, err := st.Write(context.Background(), src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	names := map[string]digest.Digest{"example.com/app:v1": set.Index.Digest, "docker.io/library/busybox:1.36": set.Single.Manifest.Digest}
	storetest.Lister(t, st, names, []digest.Digest{set.AMD64.Layer.Digest, set.Referrer.Digest})
	storetest.Resolver(t, st, names)
}

// TestWriteRoundTrip: every object is the source's file byte for byte,
// under the key a layout has as its path, index.json names every image,
// and reading it back through the store verifies every blob.
func TestWriteRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	set := testimage.New(t)
	st, prefix := open(t, srv, b, s3.Config{})
	src := source(t, set.Dir)
	res, err := st.Write(ctx, src, src.Images, s3.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != set.TotalBlobs || res.Skipped != 0 {
		t.Fatalf("uploaded %d, skipped %d; want %d and 0", res.Uploaded, res.Skipped, set.TotalBlobs)
	}
	blobs, _ := filepath.Glob(filepath.Join(set.Dir, "blobs", "sha256", "*"))
	for _, f := range blobs {
		want, _ := os.ReadFile(f)
		if got := object(t, srv, b, prefix+"/blobs/sha256/"+filepath.Base(f)); !bytes.Equal(got, want) {
			t.Errorf("blob %s is not byte-identical in the bucket", filepath.Base(f))
		}
	}
	ims, err := st.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ims) != len(src.Images) {
		t.Fatalf("index.json has %d entries, want %d", len(ims), len(src.Images))
	}
	for _, im := range src.Images {
		d, err := st.Resolve(ctx, im.Name())
		if im.Ref.Repo != "" && (err != nil || d.Digest != im.Desc.Digest) {
			t.Errorf("%s resolves to %s (%v), want %s", im.Name(), d.Digest, err, im.Desc.Digest)
		}
	}
	// Back out of the bucket: Copy verifies every byte it reads.
	back := memstore.New()
	var roots []ocispec.Descriptor
	for _, im := range ims {
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, st, roots, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.Copy(ctx, st, back, g, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Blobs) + len(g.Nodes); n != set.TotalBlobs {
		t.Fatalf("read back %d blobs, want %d", n, set.TotalBlobs)
	}
}

// TestRewriteSkipsPresent: a second copy of the same images uploads
// nothing, and the server's files are untouched, index.json included.
func TestRewriteSkipsPresent(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	set := testimage.New(t)
	st, _ := open(t, srv, b, s3.Config{})
	src := source(t, set.Dir)
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := files(t, filepath.Join(srv.Dir, b))
	res, err := st.Write(ctx, src, src.Images, s3.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 0 || res.Skipped != set.TotalBlobs {
		t.Fatalf("re-copy uploaded %d and skipped %d, want 0 and %d", res.Uploaded, res.Skipped, set.TotalBlobs)
	}
	after := files(t, filepath.Join(srv.Dir, b))
	for f, v := range before {
		if after[f] != v {
			t.Errorf("re-copy rewrote %s", f)
		}
	}
	// A blob of the wrong size in the bucket is not "present": it is
	// replaced with the verified one.
	key := filepath.Join(srv.Dir, b, "p"+strings.TrimPrefix(st.String(), "s3://"+b+"/p"), "blobs", "sha256", set.AMD64.Layer.Digest.Encoded())
	if _, err := srv.Client(t).PutObject(ctx, b, strings.TrimPrefix(key, filepath.Join(srv.Dir, b)+"/"), strings.NewReader("short"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = st.Write(ctx, src, src.Images, s3.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 1 {
		t.Fatalf("uploaded %d after one blob was truncated, want 1", res.Uploaded)
	}
	if got, _ := os.ReadFile(key); int64(len(got)) != set.AMD64.Layer.Size {
		t.Fatalf("the truncated blob was not replaced (%d bytes)", len(got))
	}
}

// bigImage is a layout holding one image with a layer of size random bytes.
func bigImage(t *testing.T, size int) (string, ocispec.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	layer := make([]byte, size)
	rand.Read(layer)
	l := testimage.Put(t, txn, ocispec.MediaTypeImageLayer, layer)
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{l.Digest}}})
	cd := testimage.Put(t, txn, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: struct {
		SchemaVersion int `json:"schemaVersion"`
	}{2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{l}})
	md := testimage.Put(t, txn, ocispec.MediaTypeImageManifest, m)
	r, _ := layout.ParseRef("example.com/big:1")
	if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: r, Desc: layout.Annotate(md, r)}}); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

// TestMultipart: a layer over the part size goes in parts, arrives byte
// for byte, and one whose source bytes turn out wrong at the very end is
// never completed: no object under its key, no upload left open.
func TestMultipart(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	dir, layer := bigImage(t, 2*s3.MinPartSize+12345)
	src := source(t, dir)

	st, prefix := open(t, srv, b, s3.Config{PartSize: s3.MinPartSize})
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	key := prefix + "/blobs/sha256/" + layer.Digest.Encoded()
	info, err := srv.Client(t).StatObject(ctx, b, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("layer ETag %q: not a three-part upload", info.ETag)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded()))
	if !bytes.Equal(object(t, srv, b, key), want) {
		t.Fatal("the multipart layer is not byte-identical")
	}

	st2, prefix2 := open(t, srv, b, s3.Config{PartSize: s3.MinPartSize})
	_, err = st2.Write(ctx, &lying{ReadOnly: src, blob: layer.Digest}, src.Images, s3.WriteOptions{})
	if !errors.Is(err, layout.ErrDigestMismatch) || !strings.Contains(err.Error(), layer.Digest.String()) || !strings.Contains(err.Error(), "example.com/big:1") {
		t.Fatalf("a lying source gave %v; want a digest mismatch naming the layer and the image", err)
	}
	if _, err := srv.Client(t).StatObject(ctx, b, prefix2+"/blobs/sha256/"+layer.Digest.Encoded(), minio.StatObjectOptions{}); err == nil {
		t.Fatal("an object with the wrong bytes is stored under the layer's digest")
	}
	for u := range srv.Client(t).ListIncompleteUploads(ctx, b, prefix2, true) {
		t.Errorf("upload %s of %s left open", u.UploadID, u.Key)
	}
	if _, err := st2.Names(ctx); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("a failed first copy left a layout behind: %v", err)
	}
}

// TestIndexLast pauses a copy on its last blob and looks at the bucket:
// index.json names only what is there (the first image, copied before),
// never the image half copied; killed there, the bucket stays so.
func TestIndexLast(t *testing.T) {
	srv, b := bucket(t)
	set := testimage.New(t)
	src := source(t, set.Dir)
	st, _ := open(t, srv, b, s3.Config{})
	busybox, _ := layout.Match(src.Images, "busybox:1.36")
	app, _ := layout.Match(src.Images, "example.com/app:v1")
	if _, err := st.Write(context.Background(), src, busybox, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := &paused{ReadOnly: src, blob: set.ARM64.Layer.Digest, reached: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := st.Write(ctx, p, app, s3.WriteOptions{Concurrency: 1}); done <- err }()
	waitFor(t, p.reached)
	checkNamed := func(when string) {
		ims, err := st.Names(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, im := range ims {
			if im.Desc.Digest == set.Index.Digest {
				t.Fatalf("%s: index.json names %s before its blobs are all there", when, im.Name())
			}
			if _, err := layout.Walk(context.Background(), st, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{CheckBlobs: true}); err != nil {
				t.Fatalf("%s: index.json names %s, which the bucket does not hold whole: %v", when, im.Name(), err)
			}
		}
	}
	checkNamed("paused")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("killed copy: %v", err)
	}
	checkNamed("killed")
	res, err := st.Write(context.Background(), src, app, s3.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == 0 {
		t.Errorf("the re-run after the kill skipped nothing the killed run had stored")
	}
	if _, err := st.Resolve(context.Background(), "example.com/app:v1"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentWriters: copies of different images into one prefix at
// once all keep their names: index.json is merged under a conditional
// write, never overwritten with one writer's view.
func TestConcurrentWriters(t *testing.T) {
	srv, b := bucket(t)
	st, prefix := open(t, srv, b, s3.Config{})
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		dir := t.TempDir()
		d, err := layout.CreateDir(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		txn := d.Begin()
		im := testimage.Build(t, txn, "amd64", fmt.Sprintf("writer %d", i))
		r, _ := layout.ParseRef(fmt.Sprintf("example.com/w%d:1", i))
		if err := txn.Commit(context.Background(), nil, []layout.Image{{Ref: r, Desc: layout.Annotate(im.Manifest, r)}}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		src := source(t, dir)
		w, err := s3.Open(st.String(), s3.Config{Endpoint: srv.URL(), PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.Write(context.Background(), src, src.Images, s3.WriteOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ims, err := st.Names(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ims) != n {
		var names []string
		for _, im := range ims {
			names = append(names, im.Name())
		}
		t.Fatalf("index.json of %s names %v after %d concurrent copies", prefix, names, n)
	}
}

// TestWrongCredentials: the error says the server refused them and what
// to check, and repeats no secret.
func TestWrongCredentials(t *testing.T) {
	srv, b := bucket(t)
	set := testimage.New(t)
	src := source(t, set.Dir)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
	st, _ := open(t, srv, b, s3.Config{})
	_, err := st.Write(context.Background(), src, src.Images, s3.WriteOptions{})
	if err == nil {
		t.Fatal("wrong credentials were accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "refused") || !strings.Contains(msg, "AWS_SECRET_ACCESS_KEY") || !strings.Contains(msg, "s3://ferry-test/") {
		t.Errorf("unclear error for wrong credentials: %v", msg)
	}
	for _, secret := range []string{"wrong-secret-value", srv.SecretKey} {
		if strings.Contains(msg, secret) {
			t.Errorf("the error repeats a secret: %v", msg)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "nobody")
	if _, err := st.Write(context.Background(), src, src.Images, s3.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("unknown access key: %v", err)
	}
}

// TestPublicStaticRoute: with the bucket's public-read policy, plain
// anonymous GETs of HOST/BUCKET/PREFIX/index.json and of the blobs it
// names serve the layout (the static web route), and a store with no
// credentials at all reads it too.
func TestPublicStaticRoute(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	set := testimage.New(t)
	src := source(t, set.Dir)
	st, prefix := open(t, srv, b, s3.Config{})
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(key string) (int, []byte) {
		resp, err := http.Get(srv.URL() + "/" + b + "/" + prefix + "/" + key)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, _ := get("index.json"); code != http.StatusForbidden {
		t.Fatalf("a private bucket answered an anonymous GET with %d", code)
	}
	srv.Public(t, b)
	code, body := get("index.json")
	if code != http.StatusOK {
		t.Fatalf("index.json: HTTP %d", code)
	}
	idx, err := layout.ParseIndexJSON(body, "index.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		code, body := get("blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded())
		if code != http.StatusOK || digest.FromBytes(body) != d.Digest {
			t.Errorf("blob %s: HTTP %d, %d bytes that do not match", d.Digest, code, len(body))
		}
	}
	if code, _ := get("oci-layout"); code != http.StatusOK {
		t.Errorf("oci-layout: HTTP %d", code)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	anon, err := s3.Open(st.String(), s3.Config{Endpoint: srv.URL(), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ims, err := anon.Names(ctx)
	if err != nil || len(ims) != len(src.Images) {
		t.Fatalf("anonymous read: %d images, %v", len(ims), err)
	}
	if err := anon.Push(ctx, set.AMD64.Layer, strings.NewReader("x")); err == nil {
		t.Fatal("an anonymous write was accepted")
	}
}

// TestHostileBucket: an index.json over the cap is refused by the size
// the server gives, before it is read, naming the key; URLs whose prefix
// would make keys escape or collide are refused before any request.
func TestHostileBucket(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	st, prefix := open(t, srv, b, s3.Config{})
	c := srv.Client(t)
	big := bytes.Repeat([]byte(" "), layout.MaxIndexSize+1)
	for key, body := range map[string][]byte{prefix + "/oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), prefix + "/index.json": big} {
		if _, err := c.PutObject(ctx, b, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := st.Names(ctx)
	if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "s3://"+b+"/"+prefix+"/index.json") {
		t.Fatalf("an oversized index.json gave %v", err)
	}
	set := testimage.New(t)
	src := source(t, set.Dir)
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); !errors.Is(err, layout.ErrTooLarge) {
		t.Fatalf("writing over an oversized index.json: %v", err)
	}
	for _, u := range []string{"s3://b/p", "s3://ferry-test/../x", "s3://ferry-test/a//b", "s3://ferry-test/./a", "s3://Upper/x", "ferry-test/x"} {
		if _, err := s3.Open(u, s3.Config{Endpoint: srv.URL()}); err == nil {
			t.Errorf("Open(%q) accepted", u)
		}
	}
	if _, err := st.Fetch(ctx, ocispec.Descriptor{Digest: "sha256:../../index.json", Size: 1}); !errors.Is(err, layout.ErrInvalidDigest) {
		t.Errorf("a hostile digest: %v", err)
	}
}

// TestTLS: an endpoint without a scheme is TLS, the server's certificate
// is checked (refused without its CA), and --ca-file's CA is trusted.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartWith(t, s3test.Options{TLS: true})
	srv.Bucket(t, "ferry-tls")
	srv.Env(t)
	set := testimage.New(t)
	src := source(t, set.Dir)
	untrusted, err := s3.Open("s3://ferry-tls/x", s3.Config{Endpoint: srv.Host, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusted.Write(ctx, src, src.Images, s3.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server whose CA is not trusted: %v", err)
	}
	st, err := s3.Open("s3://ferry-tls/x", s3.Config{Endpoint: srv.Host, PathStyle: true, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ims, err := st.Names(ctx); err != nil || len(ims) != len(src.Images) {
		t.Fatalf("over TLS: %d images, %v", len(ims), err)
	}
}

// TestRetriesRefusedUpload: a blob upload the server refuses as
// overloaded is sent again from a fresh read of the source (a streamed
// body cannot be rewound), and the copy completes.
func TestRetriesRefusedUpload(t *testing.T) {
	ctx := context.Background()
	srv, b := bucket(t)
	set := testimage.New(t)
	src := source(t, set.Dir)
	flaky := s3test.NewFlaky(t, srv, "/blobs/sha256/"+set.AMD64.Layer.Digest.Encoded(), 2)
	st, err := s3.Open("s3://"+b+"/retried", s3.Config{Endpoint: flaky.URL(), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if flaky.Fired() != 2 {
		t.Fatalf("the proxy refused %d uploads, want 2", flaky.Fired())
	}
	if got := object(t, srv, b, "retried/blobs/sha256/"+set.AMD64.Layer.Digest.Encoded()); digest.FromBytes(got) != set.AMD64.Layer.Digest {
		t.Fatal("the retried layer is not intact")
	}
}

// TestCredentialsFile: with no AWS variables, the AWS_PROFILE profile of
// AWS_SHARED_CREDENTIALS_FILE signs the requests, as the AWS CLI reads it.
func TestCredentialsFile(t *testing.T) {
	srv, b := bucket(t)
	file := filepath.Join(t.TempDir(), "credentials")
	ini := "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n[ferry]\naws_access_key_id = " + srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_PROFILE", "ferry")
	set := testimage.New(t)
	src := source(t, set.Dir)
	st, _ := open(t, srv, b, s3.Config{})
	if _, err := st.Write(context.Background(), src, src.Images, s3.WriteOptions{}); err != nil {
		t.Fatalf("with the ferry profile: %v", err)
	}
	t.Setenv("AWS_PROFILE", "")
	st, _ = open(t, srv, b, s3.Config{})
	if _, err := st.Write(context.Background(), src, src.Images, s3.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("the default profile's wrong keys: %v", err)
	}
}

// patterned is n bytes of a fixed pseudo-random sequence, generated as
// read, so a test can stream a large blob without holding it.
type patterned struct {
	n, off int64
	x      uint64
}

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		p.x = p.x*6364136223846793005 + 1442695040888963407
		b[i] = byte(p.x >> 56)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestPushStreams: a blob goes up without being held, whole PUT or in
// parts: what the process allocates stays far below the blob's size.
func TestPushStreams(t *testing.T) {
	const size = 24 << 20
	h := digest.SHA256.Digester()
	io.Copy(h.Hash(), &patterned{n: size})
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: h.Digest(), Size: size}
	srv, b := bucket(t)
	for _, ps := range []int64{0, s3.MinPartSize} {
		st, _ := open(t, srv, b, s3.Config{PartSize: ps})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := st.Push(context.Background(), d, &patterned{n: size}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/2 {
			t.Errorf("part size %d: pushing %d MiB allocated %d MiB", ps, size>>20, alloc>>20)
		}
		if ok, err := st.Exists(context.Background(), d); !ok || err != nil {
			t.Fatalf("part size %d: pushed blob absent (%v)", ps, err)
		}
	}
}
