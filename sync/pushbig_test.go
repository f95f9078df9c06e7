package sync_test

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// bigImages writes a layout of n images named big/imgK:v1, each with a
// layer of size random bytes of its own and, when shared is set, one
// more layer all of them have.
func bigImages(t *testing.T, n, size int, shared bool) (string, []testimage.Image) {
	t.Helper()
	dir := t.TempDir()
	d, err := layout.CreateDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	txn := d.Begin()
	var common []byte
	if shared {
		common = random(size, 99)
	}
	var out []testimage.Image
	var ims []layout.Image
	for k := range n {
		layers := [][]byte{random(size, byte(k))}
		if shared {
			layers = append(layers, common)
		}
		im := buildLayers(t, txn, layers)
		ref, _ := layout.ParseRef("example.com/big/img" + string(rune('a'+k)) + ":v1")
		ims = append(ims, layout.Image{Ref: ref, Desc: layout.Annotate(im.Manifest, ref)})
		out = append(out, im)
	}
	if err := txn.Commit(context.Background(), nil, ims); err != nil {
		t.Fatal(err)
	}
	return dir, out
}

// buildLayers stores a manifest of the given layers, the first one
// recorded as the image's Layer.
func buildLayers(t *testing.T, s layout.Store, layers [][]byte) testimage.Image {
	var im testimage.Image
	var descs []ocispec.Descriptor
	var diffs []digest.Digest
	for _, l := range layers {
		d := testimage.Put(t, s, ocispec.MediaTypeImageLayer, l)
		descs = append(descs, d)
		diffs = append(diffs, d.Digest)
	}
	im.Layer = descs[0]
	c, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	im.Config = testimage.Put(t, s, ocispec.MediaTypeImageConfig, c)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: im.Config, Layers: descs})
	im.Manifest = testimage.Put(t, s, ocispec.MediaTypeImageManifest, m)
	return im
}

func random(n int, seed byte) []byte {
	b, _ := io.ReadAll(io.LimitReader(rand.NewChaCha8([32]byte{seed}), int64(n)))
	return b
}

// TestPushRefusesLayerChangedMidway: a layer file changed while it is
// being pushed fails the push with the layer's digest, and the registry
// is asked to commit nothing: no PUT closes the layer's session, the
// blob is not there, nor the manifest, nor the tag.
func TestPushRefusesLayerChangedMidway(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir, ims := bigImages(t, 1, 24<<20, false)
	layer := filepath.Join(dir, "blobs", "sha256", ims[0].Layer.Digest.Encoded())
	counter := regtest.NewCounter(t, reg)
	var once gosync.Once
	counter.OnBytes(func(total int64) {
		if total < 1<<20 {
			return
		}
		once.Do(func() { // the client waits on this proxy: the end is unsent
			f, err := os.OpenFile(layer, os.O_RDWR, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("changed"), ims[0].Layer.Size-7); err != nil {
				t.Error(err)
			}
		})
	})
	src := open(t, dir)
	c := &remote.Client{}
	_, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: counter.Host})
	if err == nil || !strings.Contains(err.Error(), ims[0].Layer.Digest.String()) || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("want a digest mismatch naming the layer, got %v", err)
	}
	counter.Settle()
	// The config, small, was verified before its one PUT; the layer's
	// closing PUT, which carries its last bytes, must end short of them,
	// so the registry commits only the config.
	if got := committedUploads(t, reg, "big/imga"); got != 1 {
		t.Fatalf("want only the config committed, the registry committed %d uploads (client sent %v)", got, counter.Sends())
	}
	if counter.Bytes() >= ims[0].Layer.Size {
		t.Fatalf("%d bytes went for a %d-byte layer that did not verify: its held-back tail went too", counter.Bytes(), ims[0].Layer.Size)
	}
	ref, _ := layout.ParseRef(reg.Host + "/big/imga:v1")
	repo := c.Repository(ref, false)
	if ok, _ := repo.Exists(ctx, ims[0].Layer); ok {
		t.Fatal("the registry holds the changed layer under its digest")
	}
	if ok, _ := repo.Exists(ctx, ims[0].Manifest); ok {
		t.Fatal("the manifest was pushed")
	}
	if _, err := repo.Resolve(ctx, "v1"); err == nil {
		t.Fatal("the tag was pushed")
	}
}

// TestPushRestartsDroppedUpload: a connection dropped in the middle of a
// layer's PATCH restarts that blob on a new session, and the image
// arrives whole; only the dropped blob is sent again.
func TestPushRestartsDroppedUpload(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir, ims := bigImages(t, 1, 8<<20, false)
	var dropped atomic.Int32
	proxy := regtest.NewProxy(t, reg, regtest.Fault{Path: "/blobs/uploads/", Times: 1 << 20, Before: func(r *http.Request) {
		if r.ContentLength > 1<<20 && dropped.Add(1) == 1 {
			io.CopyN(io.Discard, r.Body, 1<<20)
			panic(http.ErrAbortHandler) // the server hangs up mid-body
		}
	}})
	src := open(t, dir)
	res, err := sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: proxy.Host})
	if err != nil {
		t.Fatal(err)
	}
	if dropped.Load() < 1 {
		t.Fatal("the fault never fired")
	}
	pulled, err := sync.Pull(ctx, &remote.Client{}, []string{reg.Host + "/big/imga:v1"}, t.TempDir(), sync.PullOptions{})
	if err != nil || pulled[0].Digest != ims[0].Manifest.Digest || res[0].Digest != ims[0].Manifest.Digest {
		t.Fatalf("pushed %v, pulled %v: %v", res, pulled, err)
	}
	log, _ := os.ReadFile(reg.Log)
	var posts, patches, puts int
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"POST /v2/big/imga/blobs/uploads/`) {
			posts++
		}
		if strings.Contains(l, `"PATCH /v2/big/imga/blobs/uploads/`) {
			patches++
		}
		if strings.Contains(l, `"PUT /v2/big/imga/blobs/uploads/`) {
			puts++
		}
	}
	// The config and the layer open a session each, the layer once more
	// after the drop (which the proxy kept from the registry); each
	// blob is committed once, by a PUT with its bytes.
	if posts != 3 || patches != 0 || puts != 2 {
		t.Fatalf("want 3 sessions, no PATCH and 2 PUTs at the registry, saw %d, %d and %d", posts, patches, puts)
	}
}

// TestPushImagesInParallel: the blobs of several images go at once (two
// repositories have an upload in flight together), and a layer they
// share is still sent once, then mounted into the others, as when they
// went one after the other.
func TestPushImagesInParallel(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir, ims := bigImages(t, 3, 3<<20, true)
	var mu gosync.Mutex
	inflight := map[string]int{}
	layers := 0
	overlap := make(chan struct{})
	var once gosync.Once
	target, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A layer goes in its closing PUT (3 MiB is past the in-memory
		// limit, so its tail waits for the digest); configs are small.
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/blobs/uploads/") || r.ContentLength < 3<<20 {
			rp.ServeHTTP(w, r)
			return
		}
		repo, _, _ := strings.Cut(r.URL.Path, "/blobs/")
		mu.Lock()
		inflight[repo]++
		busy := 0
		for _, n := range inflight {
			if n > 0 {
				busy++
			}
		}
		mu.Unlock()
		if busy >= 2 {
			once.Do(func() { close(overlap) })
		}
		// Held until two repositories upload at once: a push that sends
		// images one by one never gets there.
		select {
		case <-overlap:
		case <-time.After(10 * time.Second):
		}
		rp.ServeHTTP(w, r)
		mu.Lock()
		inflight[repo]--
		layers++
		mu.Unlock()
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	src := open(t, dir)
	res, err := sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: host})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-overlap:
	default:
		t.Fatal("no two images had an upload in flight at once")
	}
	for i, im := range ims {
		if res[i].Digest != im.Manifest.Digest {
			t.Fatalf("pushed %v", res)
		}
	}
	log, _ := os.ReadFile(reg.Log)
	var mounts int
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"POST /v2/big/`) && strings.Contains(l, "mount=") {
			mounts++
		}
	}
	if layers != 4 || mounts != 2 {
		t.Fatalf("want the 3 own layers and the shared one sent once (4 uploads) and the shared one mounted twice, saw %d and %d", layers, mounts)
	}
	for k, im := range ims {
		ref := reg.Host + "/big/img" + string(rune('a'+k)) + ":v1"
		pulled, err := sync.Pull(ctx, &remote.Client{}, []string{ref}, t.TempDir(), sync.PullOptions{})
		if err != nil || pulled[0].Digest != im.Manifest.Digest {
			t.Fatalf("pull %s: %v %v", ref, pulled, err)
		}
	}
}

// TestPushTaggedRootOnce: a tagged image's root manifest goes in one PUT
// by its tag, which stores it under its digest too (it pulls back by
// digest), not in a HEAD and a PUT by digest first. The tag is not even
// checked when its blobs had to go (the repository cannot hold the
// manifest then); a re-run, with nothing to send, checks it and puts
// nothing.
func TestPushTaggedRootOnce(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	dir, ims := bigImages(t, 1, 1000, false)
	src := open(t, dir)
	if _, err := sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(reg.Log)
	var manifests []string
	for _, m := range regexp.MustCompile(`"([A-Z]+ /v2/big/imga/manifests/[^ ]+) HTTP/`).FindAllStringSubmatch(string(log), -1) {
		manifests = append(manifests, m[1])
	}
	if len(manifests) != 1 || manifests[0] != "PUT /v2/big/imga/manifests/v1" {
		t.Fatalf("want the tag put, nothing by digest and no HEAD, saw %q", manifests)
	}
	if _, err := sync.Push(ctx, &remote.Client{}, src, src.Images, sync.PushOptions{To: reg.Host}); err != nil {
		t.Fatal(err)
	}
	log, _ = os.ReadFile(reg.Log)
	manifests = nil
	for _, m := range regexp.MustCompile(`"([A-Z]+ /v2/big/imga/manifests/[^ ]+) HTTP/`).FindAllStringSubmatch(string(log), -1) {
		manifests = append(manifests, m[1])
	}
	if len(manifests) != 2 || manifests[1] != "HEAD /v2/big/imga/manifests/v1" {
		t.Fatalf("want the re-run to check the tag and put nothing, saw %q", manifests)
	}
	pulled, err := sync.Pull(ctx, &remote.Client{}, []string{reg.Host + "/big/imga@" + ims[0].Manifest.Digest.String()}, t.TempDir(), sync.PullOptions{})
	if err != nil || pulled[0].Digest != ims[0].Manifest.Digest {
		t.Fatalf("pull by digest: %v %v", pulled, err)
	}
}

// committedUploads counts the upload sessions of repo the registry
// closed with a 201, from its access log.
func committedUploads(t *testing.T, reg *regtest.Registry, repo string) int {
	t.Helper()
	log, err := os.ReadFile(reg.Log)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"PUT /v2/` + regexp.QuoteMeta(repo) + `/blobs/uploads/[^ ]+ HTTP/1\.1" (\d+)`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(log), -1) {
		if m[1] == "201" {
			n++
		}
	}
	return n
}
