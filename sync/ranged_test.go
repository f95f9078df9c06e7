package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
	"github.com/oci-ferry/ferry/verify"
)

// bigParts is the most ranges a pull fetches bigImage's layer in: it is
// just above four ranges' worth.
const bigParts = 5

// streamCap is the per-connection rate (bytes per second) the tests hold
// blob answers to, so a pull finds its one stream slow and splits the
// layer, as over a link that caps each connection. Unpaced, on loopback,
// one stream is fast and stays one.
const streamCap = 16 << 20

// splitGETs checks that the layer came in a first stream and the ranges
// it split into (two to bigParts GETs), each byte served about once: the
// first stream is cut where its range ends, so a little more than the
// layer may have left the registry, never a second copy.
func splitGETs(t *testing.T, cnt *regtest.Counter, layer ocispec.Descriptor, extra int64) int {
	t.Helper()
	f := cnt.Fetches()
	n := layerGETs(f, layer)
	if n < 2 || n > bigParts+int(extra) {
		t.Fatalf("%d GETs of the layer, want a first stream and up to %d ranges: %v", n, bigParts-1, f)
	}
	return n
}

// bigImage pushes to reg, as seed/big:v1, an image whose one layer is
// large enough to be fetched in ranges, of random (incompressible) bytes.
func bigImage(t *testing.T, reg *regtest.Registry) ocispec.Descriptor {
	t.Helper()
	return bigImageWith(t, reg, &remote.Client{})
}

// bigImageWith is bigImage through c, for a registry c must be told how
// to reach (its CA).
func bigImageWith(t *testing.T, reg *regtest.Registry, c *remote.Client) ocispec.Descriptor {
	t.Helper()
	b := make([]byte, layout.RangedMin+2<<20)
	rand.NewChaCha8([32]byte{7}).Read(b)
	tb := testimage.LayerTar("big.bin", string(b))
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(tb), Size: int64(len(tb))}
	seedOneLayer(t, reg, c, "example.com/big:v1", layer, func() io.Reader { return bytes.NewReader(tb) })
	return layer
}

// seedOneLayer pushes to reg, under seed/, an image named ref of one
// layer whose bytes come from content, with its config and manifest.
func seedOneLayer(t *testing.T, reg *regtest.Registry, c *remote.Client, ref string, layer ocispec.Descriptor, content func() io.Reader) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := layout.CreateDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Push(ctx, layer, content()); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{layer.Digest}}})
	config := testimage.Put(t, st, ocispec.MediaTypeImageConfig, cfg)
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}})
	man := testimage.Put(t, st, ocispec.MediaTypeImageManifest, m)
	r, _ := layout.ParseRef(ref)
	if err := st.UpdateIndex(ctx, func([]layout.Image) ([]layout.Image, error) {
		return []layout.Image{{Ref: r, Desc: layout.Annotate(man, r)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	src := open(t, dir)
	if _, err := sync.Push(ctx, c, src, src.Images, sync.PushOptions{To: reg.Host + "/seed"}); err != nil {
		t.Fatal(err)
	}
}

// layerGETs counts the GETs of d among a counter's blob fetches.
func layerGETs(fetches []string, d ocispec.Descriptor) int {
	n := 0
	for _, f := range fetches {
		if strings.HasSuffix(f, "/blobs/"+d.Digest.String()) {
			n++
		}
	}
	return n
}

// pulledIntact checks that the layout at dir verifies and holds layer.
func pulledIntact(t *testing.T, dir string, layer ocispec.Descriptor) {
	t.Helper()
	got := open(t, dir)
	if rep := verify.Check(context.Background(), got, got.Images, nil, verify.Options{}); !rep.OK {
		t.Fatalf("pulled layout: %+v", rep.Problems)
	}
	fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded()))
	if err != nil || fi.Size() != layer.Size {
		t.Fatalf("layer in the layout: %v, %v", fi, err)
	}
}

// TestPullRanged: a large layer over a link that caps each connection
// starts as one stream, which, slow, splits the rest into ranges, one
// GET each and no other request for it; the layout holds it byte for
// byte.
func TestPullRanged(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	cnt := regtest.NewCounter(t, reg)
	cnt.PaceStreams(streamCap)
	dir := t.TempDir()
	if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	n := splitGETs(t, cnt, layer, 0)
	if n < 3 {
		t.Fatalf("%d GETs of the layer: with each connection capped, the probe doubles the rate and more connections must follow", n)
	}
	if f := cnt.Fetches(); len(f) != n+1 { // and the config's
		t.Fatalf("blob GETs: %v", f)
	}
	want := layer.Size + configSize(t, dir)
	if cnt.Served() < want || cnt.Served() > want+1<<20 {
		t.Fatalf("served %d bytes for a %d-byte layer and its config", cnt.Served(), want)
	}
}

// TestPullSharedLineStaysTwo: where one line is shared by every
// connection, the probe that a slow stream starts brings nothing more,
// and no further connections follow: the layer comes in its first
// stream and the probe's range, each byte once. More would only divide
// the line and leave the hash parts to read back after the last byte.
// The decision is a measurement, which a loaded machine (CI) can
// mislead now and then, and a wrong one costs only speed: two pulls of
// three must stay on two streams (without the probe, none does).
func TestPullSharedLineStaysTwo(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	stayed := 0
	for try := range 3 {
		cnt := regtest.NewCounter(t, reg)
		cnt.PaceShared(2 * streamCap)
		dir := t.TempDir()
		if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		pulledIntact(t, dir, layer)
		want := layer.Size + configSize(t, dir)
		if cnt.Served() < want || cnt.Served() > want+1<<20 {
			t.Fatalf("served %d bytes for a %d-byte layer and its config", cnt.Served(), want)
		}
		if n := layerGETs(cnt.Fetches(), layer); n == 2 {
			stayed++
		} else {
			t.Logf("pull %d: %d GETs of the layer over a shared line, want its first stream and the probe", try+1, n)
		}
		if stayed == 2 {
			return
		}
	}
	t.Fatalf("%d of 3 pulls over a shared line stayed on the first stream and the probe, want 2", stayed)
}

// TestPullProbeRefusedFirstStreamFinishes: a source that refuses the
// probe's range (a 416, as a CDN edge may answer a second connection)
// does not fail a first stream that works: the first stream, whose
// request runs to the blob's end, takes the probe's bytes too, and the
// layer comes whole, verified, each byte served once.
//
// A probe answered with the whole blob (a 200: that edge ignores Range)
// is refused at once, its body closed unread, not read up to the part's
// start: that would download nearly the whole blob a second time.
func TestPullProbeRefusedFirstStreamFinishes(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	for kind, reaching := range map[string]int{"416": 1, "norange": 2} {
		t.Run(kind, func(t *testing.T) {
			cnt := regtest.NewCounter(t, reg)
			cnt.PaceStreams(streamCap)
			proxy := regtest.NewProxyTo(t, cnt.Host, regtest.Fault{Method: "GET", Path: "/blobs/" + layer.Digest.String(), Skip: 1, Times: 1, Kind: kind})
			dir := t.TempDir()
			start := time.Now()
			if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
				t.Fatal(err)
			}
			pulledIntact(t, dir, layer)
			if n := layerGETs(cnt.Fetches(), layer); n != reaching {
				t.Fatalf("%d GETs of the layer reached the registry, want %d: %v", n, reaching, cnt.Fetches())
			}
			// The refused answer's bytes in flight when it was closed, at
			// most a few MiB of buffers, and no more.
			want := layer.Size + configSize(t, dir)
			if cnt.Served() < want || cnt.Served() > want+8<<20 {
				t.Fatalf("served %d bytes for a %d-byte layer and its config", cnt.Served(), want)
			}
			if took, alone := time.Since(start), time.Duration(float64(layer.Size)/streamCap*float64(time.Second)); took > alone+alone/2 {
				t.Errorf("took %v, where one stream alone takes %v", took, alone)
			}
		})
	}
}

// TestPullFastStreamStaysOne: a stream that keeps bringing more than the
// split rate (48 MB/s, layout/rangefill.go) past its first 200 ms, with
// more than a second of the blob still to come, is not split: ranges
// would only add requests and a read back of what they wrote. The stream
// is held to 128 MiB/s, so the pull lasts long enough for the decision
// to be taken on the rate alone. A loaded machine (CI, other packages'
// tests on the same two cores) can starve the stream below the rate,
// and a split is then the right call: one pull of three must keep its
// one stream; code that splits regardless keeps none.
func TestPullFastStreamStaysOne(t *testing.T) {
	reg := regtest.Start(t)
	layer := longImage(t, reg, 192<<20)
	for try := range 3 {
		cnt := regtest.NewCounter(t, reg)
		cnt.PaceStreams(128 << 20)
		dir := t.TempDir()
		if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{cnt.Host + "/seed/long:v1"}, dir, sync.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		pulledIntact(t, dir, layer)
		n := layerGETs(cnt.Fetches(), layer)
		if n == 1 {
			return
		}
		t.Logf("pull %d: %d GETs of the layer at 128 MiB/s, want its one stream: %v", try+1, n, cnt.Fetches())
	}
	t.Fatal("no pull of three kept the fast layer's one stream")
}

// longImage pushes to reg, as seed/long:v1, an image of one layer of
// size random bytes, streamed into the layout (hashed in a first pass of
// the same seeded generator), never held in memory.
func longImage(t *testing.T, reg *regtest.Registry, size int64) ocispec.Descriptor {
	t.Helper()
	gen := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{9}), size) }
	h := digest.SHA256.Digester()
	if _, err := io.Copy(h.Hash(), gen()); err != nil {
		t.Fatal(err)
	}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: h.Digest(), Size: size}
	seedOneLayer(t, reg, &remote.Client{}, "example.com/long:v1", layer, gen)
	return layer
}

// configSize is the config blob's size in the pulled layout.
func configSize(t *testing.T, dir string) int64 {
	got := open(t, dir)
	var n int64
	for _, im := range got.Images {
		g, err := layout.Walk(context.Background(), got, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range g.Blobs {
			if layout.IsConfig(b.MediaType) {
				n += b.Size
			}
		}
	}
	return n
}

// TestPullRangedCorrupt: a flipped byte in the first stream or in one of
// the ranges it split into fails the blob with an error naming it, and
// nothing of it is committed.
func TestPullRangedCorrupt(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	for name, skip := range map[string]int{"first stream": 0, "a range": 1} {
		t.Run(name, func(t *testing.T) {
			cnt := regtest.NewCounter(t, reg)
			cnt.PaceStreams(streamCap)
			proxy := regtest.NewProxyTo(t, cnt.Host, regtest.Fault{Method: "GET", Path: "/blobs/" + layer.Digest.String(), Skip: skip, Times: 1, Kind: "corrupt"})
			dir := t.TempDir()
			_, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/big:v1"}, dir, sync.PullOptions{})
			if !errors.Is(err, layout.ErrDigestMismatch) || !strings.Contains(err.Error(), layer.Digest.String()) {
				t.Fatalf("want a digest mismatch naming the layer, got %v", err)
			}
			if proxy.Hits(0) != 1 {
				t.Fatalf("the corrupting fault fired %d times", proxy.Hits(0))
			}
			if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded())); err == nil {
				t.Fatal("the corrupt blob was committed")
			}
			if got := open(t, dir); len(got.Images) != 0 {
				t.Fatalf("an entry was written: %v", got.Images)
			}
		})
	}
}

// TestPullRangeIgnored: a registry that ignores Range answers the first
// range with the whole blob; that one stream is the download.
func TestPullRangeIgnored(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	cnt := regtest.NewCounter(t, reg)
	cnt.PaceStreams(streamCap) // slow, yet a registry without Range cannot split
	proxy := regtest.NewProxyTo(t, cnt.Host, regtest.Fault{Method: "GET", Path: "/blobs/" + layer.Digest.String(), Times: 100, Kind: "norange"})
	dir := t.TempDir()
	if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	if n := layerGETs(cnt.Fetches(), layer); n != 1 || proxy.Hits(0) != 1 {
		t.Fatalf("%d GETs of the layer (%d without Range), want the one", n, proxy.Hits(0))
	}
}

// TestPullRangeResumes: a connection dropped halfway through a range is
// resumed from where it stopped, within the range.
func TestPullRangeResumes(t *testing.T) {
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	cnt := regtest.NewCounter(t, reg)
	cnt.PaceStreams(streamCap)
	proxy := regtest.NewProxyTo(t, cnt.Host, regtest.Fault{Method: "GET", Path: "/blobs/" + layer.Digest.String(), Times: 1, Kind: "reset"})
	dir := t.TempDir()
	if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{proxy.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	if proxy.Hits(0) != 1 {
		t.Fatalf("the reset fired %d times", proxy.Hits(0))
	}
	splitGETs(t, cnt, layer, 1) // and the resume
	// The resume asked for the rest of its stream only: a restart of the
	// blob or of a range would send more than the layer once and what
	// the reset dropped in flight.
	if max := layer.Size + 2<<20 + configSize(t, dir); cnt.Served() > max {
		t.Fatalf("served %d bytes, more than the layer and what a reset drops (%d)", cnt.Served(), max)
	}
}

// TestPullRangedRedirect: a registry that redirects blob GETs to another
// host (as to a CDN): every range is asked of that host, with Range, and
// the layer still comes whole and verified.
func TestPullRangedRedirect(t *testing.T) {
	var mu gosync.Mutex
	var ranges []string
	var root string
	cdn := httptest.NewServer(regtest.PacedHandler(streamCap, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Method == http.MethodGet {
			ranges = append(ranges, r.Header.Get("Range"))
		}
		dir := root
		mu.Unlock()
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	})))
	defer cdn.Close()
	reg := regtest.StartWith(t, regtest.Options{RedirectTo: cdn.URL})
	mu.Lock()
	root = filepath.Join(reg.Dir, "data")
	mu.Unlock()
	layer := bigImage(t, reg)
	mu.Lock()
	ranges = nil
	mu.Unlock()
	dir := t.TempDir()
	if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{reg.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	mu.Lock()
	defer mu.Unlock()
	with := 0
	for _, r := range ranges {
		if r != "" {
			with++
		}
	}
	// The config, then the layer's first stream and its ranges.
	if with < 2 || with != len(ranges)-1 || with > bigParts {
		t.Fatalf("GETs at the redirect target: %q, want the config's and 2 to %d with Range", ranges, bigParts)
	}
}

// TestPullRangesOwnConnections: a registry that speaks HTTP/2 (over TLS)
// would carry every range on its one connection, whose window is what
// the ranges are there to get past: blob GETs go over HTTP/1.1, one
// connection each, and the rest (manifests) keeps HTTP/2. (Unpaced on
// loopback, the layer is one stream; that it goes over HTTP/1.1 is what
// counts here.)
func TestPullRangesOwnConnections(t *testing.T) {
	reg := regtest.StartWith(t, regtest.Options{TLS: true})
	c := &remote.Client{CAFile: reg.CAFile}
	layer := bigImageWith(t, reg, c)
	dir := t.TempDir()
	log, _ := os.ReadFile(reg.Log)
	before := len(log)
	if _, err := sync.Pull(context.Background(), &remote.Client{CAFile: reg.CAFile}, []string{reg.Host + "/seed/big:v1"}, dir, sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	pulledIntact(t, dir, layer)
	log, _ = os.ReadFile(reg.Log)
	var blobs, h2 int
	for _, l := range strings.Split(string(log[before:]), "\n") {
		switch {
		case strings.Contains(l, `"GET /v2/seed/big/blobs/`+layer.Digest.String()+` HTTP/1.1"`):
			blobs++
		case strings.Contains(l, "/blobs/"+layer.Digest.String()) && strings.Contains(l, `"GET `):
			t.Fatalf("a range not over HTTP/1.1: %s", l)
		case strings.Contains(l, `"GET /v2/seed/big/manifests/`) && strings.Contains(l, ` HTTP/2.0"`):
			h2++
		}
	}
	if blobs == 0 || h2 == 0 {
		t.Fatalf("%d layer GETs over HTTP/1.1, %d manifest GETs over HTTP/2:\n%s", blobs, h2, log[before:])
	}
}

// TestPullArchiveOneStream: into an archive, written in order, a large
// layer comes in one stream (see layout.rangedDest for why), and the
// archive verifies.
func TestPullArchiveOneStream(t *testing.T) {
	ctx := context.Background()
	reg := regtest.Start(t)
	layer := bigImage(t, reg)
	cnt := regtest.NewCounter(t, reg)
	plan, err := sync.Resolve(ctx, &remote.Client{}, []string{cnt.Host + "/seed/big:v1"}, sync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "a.tar")
	if _, err := archive.Write(ctx, plan.Sources, plan.Images, p, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := layerGETs(cnt.Fetches(), layer); n != 1 {
		t.Fatalf("%d GETs of the layer into an archive, want 1", n)
	}
	got := open(t, p)
	if rep := verify.Check(ctx, got, got.Images, nil, verify.Options{}); !rep.OK || len(got.Images) != 1 {
		t.Fatalf("archive: %d images, %+v", len(got.Images), rep.Problems)
	}
}
