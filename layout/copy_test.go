package layout_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/memstore"
	"github.com/oci-ferry/ferry/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// corrupt serves one blob with a flipped byte, as a damaged disk would.
type corrupt struct {
	layout.Store
	bad digest.Digest
}

func (c corrupt) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.Store.Fetch(ctx, d)
	if err != nil || d.Digest != c.bad {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	b[len(b)/2] ^= 0x01
	return io.NopCloser(bytes.NewReader(b)), nil
}

func walk(t *testing.T, s layout.Store, root ocispec.Descriptor, opts layout.WalkOptions) *layout.Graph {
	t.Helper()
	g, err := layout.Walk(context.Background(), s, []ocispec.Descriptor{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCopyIntoDir(t *testing.T) {
	ctx := context.Background()
	src := memstore.New()
	m := buildMultiArch(t, src)
	g := walk(t, src, m.Index, layout.WalkOptions{})
	dst := newDir(t)
	if err := layout.Copy(ctx, src, dst, g, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := walk(t, dst, m.Index, layout.WalkOptions{CheckBlobs: true})
	if !slices.Equal(nodeDigests(got), nodeDigests(g)) || !slices.Equal(digests(got.Blobs...), digests(g.Blobs...)) {
		t.Fatal("the copy does not hold the graph that was walked")
	}
	for _, b := range g.Blobs {
		if !bytes.Equal(mustFetch(t, dst, b), mustFetch(t, src, b)) {
			t.Fatalf("blob %s differs after copy", b.Digest)
		}
	}
	// Copying again into a full destination is a no-op that succeeds.
	if err := layout.Copy(ctx, src, dst, g, layout.CopyOptions{SkipExisting: true}); err != nil {
		t.Fatal(err)
	}
}

func TestCopyFiltered(t *testing.T) {
	src := memstore.New()
	m := buildMultiArch(t, src)
	plats, _ := layout.ParsePlatforms("linux/arm64")
	g := walk(t, src, m.Index, layout.WalkOptions{Platforms: plats})
	dst := memstore.New()
	if err := layout.Copy(context.Background(), src, dst, g, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range append(m.AMD64.blobs(), m.AMD64.Manifest, m.AttAMD64) {
		if ok, _ := dst.Exists(context.Background(), d); ok && !slices.Contains(digests(g.Blobs...), d.Digest) {
			t.Fatalf("filtered-out %s was copied", d.Digest)
		}
	}
	if ok, _ := dst.Exists(context.Background(), m.ARM64.Manifest); !ok {
		t.Fatal("arm64 manifest not copied")
	}
}

func TestCopyCorruptSource(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	m := buildMultiArch(t, mem)
	src := corrupt{Store: mem, bad: m.ARM64.Layers[1].Digest}
	g := walk(t, src, m.Index, layout.WalkOptions{})

	t.Run("into Txn", func(t *testing.T) {
		d := newDir(t)
		before := snapshot(t, d.Path())
		txn := d.Begin()
		err := layout.Copy(ctx, src, txn, g, layout.CopyOptions{})
		if !errors.Is(err, layout.ErrDigestMismatch) {
			t.Fatalf("Copy = %v, want ErrDigestMismatch", err)
		}
		if ok, _ := txn.Exists(ctx, m.Index); ok {
			t.Fatal("the index was written although a blob under it failed")
		}
		txn.Abort()
		assertSnapshot(t, d.Path(), before)
		if files := stagedFiles(t, d.Path()); len(files) != 0 {
			t.Fatalf("aborted copy left %q", files)
		}
	})
	t.Run("into Dir", func(t *testing.T) {
		d := newDir(t)
		if err := layout.Copy(ctx, src, d, g, layout.CopyOptions{Concurrency: 1}); !errors.Is(err, layout.ErrDigestMismatch) {
			t.Fatalf("Copy = %v, want ErrDigestMismatch", err)
		}
		if ok, _ := d.Exists(ctx, m.ARM64.Layers[1]); ok {
			t.Fatal("the corrupt blob reached the destination")
		}
		for _, n := range g.Nodes {
			if ok, _ := d.Exists(ctx, n.Desc); ok {
				t.Fatalf("manifest %s written although its content failed", n.Desc.Digest)
			}
		}
	})
}

func TestCopySkipExisting(t *testing.T) {
	ctx := context.Background()
	src := memstore.NewCounting(memstore.New())
	m := buildMultiArch(t, src)
	g := walk(t, src, m.Index, layout.WalkOptions{})

	dst := memstore.New()
	for _, b := range m.AMD64.blobs() { // the destination already has amd64
		pushBytes(t, dst, b.MediaType, mustFetch(t, src, b))
	}
	src.Reset()
	if err := layout.Copy(ctx, src, dst, g, layout.CopyOptions{SkipExisting: true}); err != nil {
		t.Fatal(err)
	}
	for _, b := range m.AMD64.blobs() {
		if n := src.Fetched(b.Digest); n != 0 {
			t.Errorf("blob %s the destination had was fetched %d times", b.Digest, n)
		}
	}
	for _, b := range m.ARM64.blobs() {
		if n := src.Fetched(b.Digest); n != 1 {
			t.Errorf("missing blob %s fetched %d times, want 1", b.Digest, n)
		}
	}
	// Nodes come from the walk's verified bytes, never a second fetch.
	for _, n := range g.Nodes {
		if src.Fetched(n.Desc.Digest) != 0 {
			t.Errorf("Copy fetched node %s again", n.Desc.Digest)
		}
	}
	// Without SkipExisting every blob is read (and so verified).
	src.Reset()
	if err := layout.Copy(ctx, src, dst, g, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := src.Counts().Fetch; got != len(g.Blobs) {
		t.Fatalf("%d fetches, want one per blob (%d)", got, len(g.Blobs))
	}
}

func TestCopyProgress(t *testing.T) {
	src := memstore.New()
	m := buildMultiArch(t, src)
	g := walk(t, src, m.Index, layout.WalkOptions{})
	var total atomic.Int64
	opts := layout.CopyOptions{Progress: func(n int64) { total.Add(n) }}
	if err := layout.Copy(context.Background(), src, memstore.New(), g, opts); err != nil {
		t.Fatal(err)
	}
	if total.Load() != g.Size() {
		t.Fatalf("progress reported %d bytes, the graph is %d", total.Load(), g.Size())
	}
}

// inflight records the most Pushes running at once.
type inflight struct {
	layout.Store
	mu       sync.Mutex
	cur, max int
}

func (s *inflight) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	s.mu.Lock()
	s.cur++
	s.max = max(s.max, s.cur)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.cur--; s.mu.Unlock() }()
	return s.Store.Push(ctx, d, r)
}

func TestCopyConcurrencyLimit(t *testing.T) {
	src := memstore.New()
	var roots []ocispec.Descriptor
	for range 4 {
		roots = append(roots, buildImage(t, src, nil, 5).Manifest)
	}
	g, err := layout.Walk(context.Background(), src, roots, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := &inflight{Store: memstore.New()}
	if err := layout.Copy(context.Background(), src, dst, g, layout.CopyOptions{Concurrency: 2}); err != nil {
		t.Fatal(err)
	}
	if dst.max > 2 {
		t.Fatalf("%d pushes ran at once with Concurrency 2", dst.max)
	}
}

// Non-distributable layers are carried only when the source has them and
// never fetched from their urls.
func TestCopyNonDistributable(t *testing.T) {
	ctx := context.Background()
	src := memstore.New()
	have := pushBytes(t, src, layout.MediaTypeDockerForeignLayer, []byte("present foreign layer"))
	absent := ocispec.Descriptor{MediaType: layout.MediaTypeDockerForeignLayer, Digest: digest.FromString("absent"), Size: 6, URLs: []string{"http://169.254.169.254/x"}}
	cfg := pushBytes(t, src, ocispec.MediaTypeImageConfig, []byte(`{}`))
	mf := pushJSON(t, src, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{have, absent}})
	g := walk(t, src, mf, layout.WalkOptions{CheckBlobs: true})
	dst := memstore.New()
	if err := layout.Copy(ctx, src, dst, g, layout.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dst.Exists(ctx, have); !ok {
		t.Fatal("a foreign layer the source holds was not copied")
	}
	if ok, _ := dst.Exists(ctx, mf); !ok {
		t.Fatal("manifest not copied")
	}
}

// nodeGate holds every manifest Push until several are in flight (or a
// guard runs out, so that one at a time shows as a count of 1, not a
// hang). The manifests an index lists are held further, until that index's
// Push begins (or the guard runs out), so an index pushed too early is
// caught, not missed by luck; it is recorded when one of them was not
// complete yet.
type nodeGate struct {
	layout.Store
	want    int
	mu      sync.Mutex
	cur     int
	max     int
	done    map[digest.Digest]bool
	listed  map[digest.Digest][]digest.Digest // index → manifests it lists
	early   []digest.Digest                   // indexes pushed before one of theirs
	release chan struct{}
	once    sync.Once
	indexed chan struct{} // closed when an index Push begins
	iOnce   sync.Once
}

// listedBy reports whether m is among the manifests of an index.
func (g *nodeGate) listedBy(m digest.Digest) bool {
	for _, ms := range g.listed {
		if slices.Contains(ms, m) {
			return true
		}
	}
	return false
}

func (g *nodeGate) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	switch d.MediaType {
	case ocispec.MediaTypeImageManifest:
		g.mu.Lock()
		g.cur++
		g.max = max(g.max, g.cur)
		if g.cur >= g.want {
			g.once.Do(func() { close(g.release) })
		}
		g.mu.Unlock()
		select {
		case <-g.release:
		case <-time.After(time.Second): // only the guard against a hang
		}
		if g.listedBy(d.Digest) {
			select {
			case <-g.indexed:
			case <-time.After(time.Second / 2):
			}
		}
		err := g.Store.Push(ctx, d, r)
		g.mu.Lock()
		g.cur--
		g.done[d.Digest] = true
		g.mu.Unlock()
		return err
	case ocispec.MediaTypeImageIndex:
		g.iOnce.Do(func() { close(g.indexed) })
		g.mu.Lock()
		for _, m := range g.listed[d.Digest] {
			if !g.done[m] {
				g.early = append(g.early, d.Digest)
			}
		}
		g.mu.Unlock()
	}
	return g.Store.Push(ctx, d, r)
}

// A pull of a thousand small images wrote their thousand manifests one
// after the other once every layer was in (a write, fsync and rename
// each, 0.6 s with the other workers idle). They go Concurrency at once
// now, and an index still only after every manifest it lists.
func TestCopyPushesManifestsAtOnce(t *testing.T) {
	src := memstore.New()
	var roots []ocispec.Descriptor
	for range 8 {
		roots = append(roots, buildImage(t, src, nil, 1).Manifest)
	}
	a, b := buildImage(t, src, &ocispec.Platform{OS: "linux", Architecture: "amd64"}, 1), buildImage(t, src, &ocispec.Platform{OS: "linux", Architecture: "arm64"}, 1)
	idx := buildIndex(t, src, a.Manifest, b.Manifest)
	roots = append(roots, idx)
	g, err := layout.Walk(context.Background(), src, roots, layout.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const conc = 4
	dst := &nodeGate{Store: memstore.New(), want: conc, done: map[digest.Digest]bool{}, release: make(chan struct{}), indexed: make(chan struct{}),
		listed: map[digest.Digest][]digest.Digest{idx.Digest: {a.Manifest.Digest, b.Manifest.Digest}}}
	if err := layout.Copy(context.Background(), src, dst, g, layout.CopyOptions{Concurrency: conc}); err != nil {
		t.Fatal(err)
	}
	if dst.max != conc {
		t.Errorf("%d manifest pushes in flight at most, want %d (the concurrency): manifests are written one at a time", dst.max, conc)
	}
	if len(dst.early) > 0 {
		t.Errorf("index %s pushed before the manifests it lists were complete", dst.early[0])
	}
	for _, r := range roots {
		if ok, err := dst.Store.Exists(context.Background(), r); !ok || err != nil {
			t.Errorf("root %s not copied: %v", r.Digest, err)
		}
	}
}
