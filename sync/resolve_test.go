package sync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// manifestGauge is a proxy that holds every manifest GET for a moment and
// records how many were in flight at once, and how many there were.
type manifestGauge struct {
	mu             gosync.Mutex
	now, max, seen int
	gets           map[string]int // GETs by path
}

func (g *manifestGauge) start(t *testing.T, upstream string) string {
	u, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			g.mu.Lock()
			if g.gets == nil {
				g.gets = map[string]int{}
			}
			g.gets[r.URL.Path]++
			g.mu.Unlock()
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			g.mu.Lock()
			g.now++
			g.seen++
			g.max = max(g.max, g.now)
			g.mu.Unlock()
			time.Sleep(40 * time.Millisecond) // long enough for the others to arrive
			defer func() { g.mu.Lock(); g.now--; g.mu.Unlock() }()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestResolveManyRefsAtOnce: a pull of many references reads their
// manifests several at a time, up to the concurrency and no further, with
// one manifest request per reference, and reports them in the order
// given. One at a time, a thousand small images waited out two round
// trips each in series before the first layer moved (bench/scale.sh).
func TestResolveManyRefsAtOnce(t *testing.T) {
	reg, set := seeded(t)
	src := open(t, set.Dir)
	ims, _ := archive.Select(src.Images, []string{"busybox:1.36"})
	const n, conc = 12, 4
	var refs []string
	g := &manifestGauge{}
	host := g.start(t, reg.Host)
	for i := range n {
		as, err := layout.ParseRef(fmt.Sprintf("%s/many/r%d:t%d", reg.Host, i%3, i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sync.Push(context.Background(), &remote.Client{}, src, ims, sync.PushOptions{As: &as}); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, fmt.Sprintf("%s/many/r%d:t%d", host, i%3, i))
	}
	p, err := sync.Resolve(context.Background(), &remote.Client{}, refs, sync.PullOptions{Concurrency: conc})
	if err != nil {
		t.Fatal(err)
	}
	if g.max < 2 || g.max > conc {
		t.Errorf("%d manifest requests in flight at most, want 2 to %d: references are resolved one at a time, or past the concurrency", g.max, conc)
	}
	if g.seen != n {
		t.Errorf("%d manifest requests for %d references, want one each", g.seen, n)
	}
	for i, pl := range p.Pulled {
		if pl.Source != refs[i] || pl.Digest != set.Single.Manifest.Digest {
			t.Fatalf("pulled[%d] = %s %s, want %s %s", i, pl.Source, pl.Digest, refs[i], set.Single.Manifest.Digest)
		}
		if len(pl.Platforms) != 1 || pl.Platforms[0] != "linux/amd64" {
			t.Fatalf("pulled[%d] platforms %v", i, pl.Platforms)
		}
	}
	if len(p.Images) != n {
		t.Fatalf("%d images planned, want %d", len(p.Images), n)
	}
}

// TestResolveStopsAtTheFirstBadRef: a reference that does not resolve is
// the error, named, and no reference after it is started beyond those
// already in flight.
func TestResolveStopsAtTheFirstBadRef(t *testing.T) {
	reg, _ := seeded(t)
	g := &manifestGauge{}
	host := g.start(t, reg.Host)
	refs := []string{host + "/seed/library/busybox:1.36", host + "/seed/nothere:v1"}
	for range 20 {
		refs = append(refs, host+"/seed/library/busybox:1.36")
	}
	_, err := sync.Resolve(context.Background(), &remote.Client{}, refs, sync.PullOptions{Concurrency: 2})
	if err == nil || !strings.Contains(err.Error(), "seed/nothere:v1") {
		t.Fatalf("want an error naming seed/nothere:v1, got %v", err)
	}
	if g.seen > 4 {
		t.Errorf("%d manifests read after the failure was known, want at most the 2 in flight beside it", g.seen)
	}
}

// TestPullFetchesEachConfigOnce: the config a pull reads to report an
// image's platform is kept for the copy, not asked for again: with a
// thousand small images that second GET was a quarter of the requests.
func TestPullFetchesEachConfigOnce(t *testing.T) {
	reg, set := seeded(t)
	g := &manifestGauge{}
	host := g.start(t, reg.Host)
	ref := host + "/seed/library/busybox:1.36"
	if _, err := sync.Pull(context.Background(), &remote.Client{}, []string{ref}, t.TempDir(), sync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	path := "/v2/seed/library/busybox/blobs/" + set.Single.Config.Digest.String()
	if n := g.gets[path]; n != 1 {
		t.Fatalf("config fetched %d times, want once (gets: %v)", n, g.gets)
	}
}

// TestPullLayerWithoutWaitingForConfig: a pull of a single image (no
// index) does not read its config before the copy to learn its platform:
// the layer's GET starts while the config's is still held, the config is
// fetched once, and the platform is still reported, read from the layout
// afterwards. Read first, the config was a round trip in series before
// the first layer moved (50 ms a pull over a WAN).
func TestPullLayerWithoutWaitingForConfig(t *testing.T) {
	reg, set := seeded(t)
	pull := func(ref, dir string) ([]sync.Pulled, error) {
		return sync.Pull(context.Background(), &remote.Client{}, []string{ref}, dir, sync.PullOptions{})
	}
	copyTo := func(ref, dir string) ([]sync.Pulled, error) { // ferry pull's way
		out, err := sync.Copy(context.Background(), &remote.Client{}, sync.Endpoint{Kind: sync.Registry, Names: []string{ref}}, sync.PathEndpoint(dir), sync.CopyOptions{})
		if err != nil {
			return nil, err
		}
		return out.Pulled, nil
	}
	for name, fn := range map[string]func(ref, dir string) ([]sync.Pulled, error){"Pull": pull, "Copy": copyTo} {
		t.Run(name, func(t *testing.T) { layerWithoutConfig(t, reg, set, fn) })
	}
}

func layerWithoutConfig(t *testing.T, reg *regtest.Registry, set *testimage.Set, fn func(ref, dir string) ([]sync.Pulled, error)) {
	cfg, layer := set.Single.Config.Digest.String(), set.Single.Layer.Digest.String()
	var (
		mu             gosync.Mutex
		configGETs     int
		configAnswered bool
		layerFirst     bool
	)
	u, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			switch {
			case strings.HasSuffix(r.URL.Path, cfg):
				mu.Lock()
				configGETs++
				mu.Unlock()
				time.Sleep(300 * time.Millisecond) // the layer's GET must come meanwhile
				mu.Lock()
				configAnswered = true
				mu.Unlock()
			case strings.HasSuffix(r.URL.Path, layer):
				mu.Lock()
				layerFirst = !configAnswered
				mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	pulled, err := fn(host+"/seed/library/busybox:1.36", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !layerFirst {
		t.Error("the layer's GET came only after the config's had been answered: the config was read before the copy")
	}
	if configGETs != 1 {
		t.Errorf("%d GETs of the config, want 1", configGETs)
	}
	if len(pulled) != 1 || strings.Join(pulled[0].Platforms, ",") != "linux/amd64" {
		t.Fatalf("pulled %+v, want one image of linux/amd64", pulled)
	}
}
