package layout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on a graph, so that a hostile index that fans out or nests without
// end is refused instead of exhausting memory.
const (
	DefaultMaxDepth = 8
	DefaultMaxNodes = 100000
	// maxGraphBytes bounds the manifests held in memory for one walk.
	maxGraphBytes = 256 << 20
)

// WalkOptions tune Walk. The zero value walks everything.
type WalkOptions struct {
	// Platforms keeps only these platforms of every index (nil: all).
	Platforms []ocispec.Platform
	// AllowMissing records absent manifests and blobs in Graph.Missing
	// instead of failing (sparse layouts, as docker and ctr write them).
	AllowMissing bool
	// CheckBlobs makes Walk ask src.Exists for every config and layer, so
	// missing ones are found during planning.
	CheckBlobs bool
	// KeepGoing records a document that cannot be read or trusted (bad
	// bytes, too deep, not decodable) in Graph.Broken and walks on, so an
	// audit reports every problem rather than the first. Cancellation and
	// the caps on the graph's size still stop the walk.
	KeepGoing bool
}

// Graph is everything reachable from a set of roots, deduplicated, in the
// order a copy must write it.
type Graph struct {
	// Nodes are the indexes and manifests, children before parents.
	Nodes []*Node
	// Blobs are configs, layers and any other leaves, in first-seen order.
	Blobs []ocispec.Descriptor
	// Filtered are index entries left out by the platform filter.
	Filtered []ocispec.Descriptor
	// Missing are descriptors absent from the source (AllowMissing only).
	Missing []ocispec.Descriptor
	// Broken are documents that could not be read or trusted, with why
	// (KeepGoing only), in the order found.
	Broken []Broken
	// Platforms lists, per root digest, the platforms kept.
	Platforms map[digest.Digest][]string

	seen  map[digest.Digest]bool
	nodes map[digest.Digest]*Node
	plats map[digest.Digest][]string // platforms under each index, computed once
	owner map[digest.Digest]digest.Digest
	root  digest.Digest
	bytes int64
	pre   map[digest.Digest]fetched // manifests fetched ahead, in parallel
	whole map[digest.Digest]State   // State's answers without a leaf override
}

// fetched is a prefetched manifest or the error fetching it gave.
type fetched struct {
	n   *Node
	err error
}

// prefetchWindow bounds how many sibling manifests are fetched ahead at
// once: enough to hide a registry's round trips, little enough that a
// hostile index cannot make ferry hold many 4 MiB documents.
const prefetchWindow = 8

// Owner is the root (image) through which the walk first reached d, so an
// error about a blob can name the image it belongs to.
func (g *Graph) Owner(d digest.Digest) digest.Digest { return g.owner[d] }

// Node returns the decoded node for d, if the walk visited it.
func (g *Graph) Node(d digest.Digest) *Node { return g.nodes[d] }

// Size is the total bytes of every distinct blob and manifest in the graph.
func (g *Graph) Size() int64 {
	var n int64
	for _, b := range g.Blobs {
		n += b.Size
	}
	for _, nd := range g.Nodes {
		n += nd.Desc.Size
	}
	return n
}

// Walk reads the graph under roots from src. Every index and manifest is
// fetched through ReadAll, so it is size-capped and verified before it is
// parsed or followed.
func Walk(ctx context.Context, src ReadOnly, roots []ocispec.Descriptor, opts WalkOptions) (*Graph, error) {
	g := &Graph{seen: map[digest.Digest]bool{}, nodes: map[digest.Digest]*Node{}, plats: map[digest.Digest][]string{}, owner: map[digest.Digest]digest.Digest{}, Platforms: map[digest.Digest][]string{}}
	for _, r := range roots {
		plats := map[string]bool{}
		g.root = r.Digest
		if err := g.visit(ctx, src, r, opts, 0, plats); err != nil {
			return nil, &WalkError{Root: r, Err: err}
		}
		for p := range plats {
			g.Platforms[r.Digest] = append(g.Platforms[r.Digest], p)
		}
		sort.Strings(g.Platforms[r.Digest])
	}
	return g, nil
}

func (g *Graph) visit(ctx context.Context, src ReadOnly, d ocispec.Descriptor, opts WalkOptions, depth int, plats map[string]bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth > DefaultMaxDepth {
		return g.broken(d, opts, fmt.Errorf("%s: %w: indexes nested deeper than %d levels", d.Digest, ErrInvalid, DefaultMaxDepth))
	}
	if n, ok := g.nodes[d.Digest]; ok {
		collectPlatforms(g, n, plats)
		return nil
	}
	if g.seen[d.Digest] {
		return nil
	}
	if _, ok := g.owner[d.Digest]; !ok {
		g.owner[d.Digest] = g.root
	}
	if len(g.seen) >= DefaultMaxNodes {
		return fmt.Errorf("%w: more than %d distinct blobs and manifests", ErrTooLarge, DefaultMaxNodes)
	}
	if !IsIndex(d.MediaType) && !IsManifest(d.MediaType) {
		g.seen[d.Digest] = true
		if opts.CheckBlobs && !IsNonDistributable(d.MediaType) {
			ok, err := src.Exists(ctx, d)
			if err != nil {
				return err
			}
			if !ok {
				if !opts.AllowMissing {
					return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, ErrNotFound)
				}
				g.Missing = append(g.Missing, d)
				return nil
			}
		}
		g.Blobs = append(g.Blobs, d)
		return nil
	}
	n, err := g.fetch(ctx, src, d)
	if err != nil {
		if opts.AllowMissing && errors.Is(err, ErrNotFound) {
			g.seen[d.Digest] = true
			g.Missing = append(g.Missing, d)
			return nil
		}
		return g.broken(d, opts, err)
	}
	g.bytes += int64(len(n.Raw))
	if g.bytes > maxGraphBytes {
		return fmt.Errorf("%w: more than %d bytes of manifests", ErrTooLarge, maxGraphBytes)
	}
	g.seen[d.Digest] = true
	var kids []ocispec.Descriptor
	for _, c := range n.Children() {
		if n.Index != nil && !keepChild(n.Index, c, opts.Platforms) {
			g.Filtered = append(g.Filtered, c)
			continue
		}
		kids = append(kids, c)
	}
	for i, c := range kids {
		if n.Index != nil && i%prefetchWindow == 0 {
			g.prefetch(ctx, src, kids[i:min(i+prefetchWindow, len(kids))])
		}
		if err := g.visit(ctx, src, c, opts, depth+1, plats); err != nil {
			return err
		}
	}
	g.nodes[d.Digest] = n
	g.Nodes = append(g.Nodes, n)
	collectPlatforms(g, n, plats)
	return nil
}

// collectPlatforms records the platforms of the manifests under n. Each
// index's set is computed once: a graph that references one nested index
// thousands of times must not be re-walked each time.
func collectPlatforms(g *Graph, n *Node, plats map[string]bool) {
	for _, p := range g.platformsOf(n) {
		plats[p] = true
	}
}

func (g *Graph) platformsOf(n *Node) []string {
	if n.Index == nil {
		return nil
	}
	if p, ok := g.plats[n.Desc.Digest]; ok {
		return p
	}
	set := map[string]bool{}
	for _, c := range n.Index.Manifests {
		child, ok := g.nodes[c.Digest]
		if !ok {
			continue
		}
		if c.Platform != nil && !isAttestation(c) {
			set[PlatformString(c.Platform)] = true
		}
		for _, p := range g.platformsOf(child) {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	g.plats[n.Desc.Digest] = out
	return out
}

// keepChild applies the platform filter to one index entry. Entries without
// a platform (nested indexes, artifacts) are kept, and so are BuildKit
// attestations whose subject platform is kept.
func keepChild(idx *ocispec.Index, c ocispec.Descriptor, want []ocispec.Platform) bool {
	if len(want) == 0 || c.Platform == nil {
		return true
	}
	if isAttestation(c) {
		ref := digest.Digest(c.Annotations["vnd.docker.reference.digest"])
		for _, o := range idx.Manifests {
			if o.Digest == ref {
				return MatchPlatform(want, o.Platform)
			}
		}
		return false
	}
	return MatchPlatform(want, c.Platform)
}

func isAttestation(c ocispec.Descriptor) bool {
	return c.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}

// Broken is a document a KeepGoing walk could not read or trust.
type Broken struct {
	Desc ocispec.Descriptor
	Err  error
}

// broken records err against d and lets the walk go on, where the caller
// asked for that and the cause is not the caller's own cancellation.
func (g *Graph) broken(d ocispec.Descriptor, opts WalkOptions, err error) error {
	if !opts.KeepGoing || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	g.seen[d.Digest] = true
	g.Broken = append(g.Broken, Broken{Desc: d, Err: err})
	return nil
}

// WalkError says which root a walk failed under, so callers can name the
// image as well as the digest.
type WalkError struct {
	Root ocispec.Descriptor
	Err  error
}

// Error is the cause's message; the digest is already in it.
func (e *WalkError) Error() string { return e.Err.Error() }

// Unwrap exposes the cause to errors.Is.
func (e *WalkError) Unwrap() error { return e.Err }

// Union merges graphs into one, each blob and node once, nodes still
// children before parents, so one Copy can move several images with all
// their blobs in parallel and shared ones fetched once.
func Union(gs ...*Graph) *Graph {
	u := &Graph{seen: map[digest.Digest]bool{}, nodes: map[digest.Digest]*Node{}, owner: map[digest.Digest]digest.Digest{},
		plats: map[digest.Digest][]string{}, Platforms: map[digest.Digest][]string{}}
	for _, g := range gs {
		for _, b := range g.Blobs {
			if !u.seen[b.Digest] {
				u.seen[b.Digest] = true
				u.Blobs = append(u.Blobs, b)
				u.owner[b.Digest] = g.owner[b.Digest]
			}
		}
		for _, n := range g.Nodes {
			if _, ok := u.nodes[n.Desc.Digest]; !ok {
				u.nodes[n.Desc.Digest] = n
				u.Nodes = append(u.Nodes, n)
				u.owner[n.Desc.Digest] = g.owner[n.Desc.Digest]
			}
		}
		u.Filtered = append(u.Filtered, g.Filtered...)
		u.Missing = append(u.Missing, g.Missing...)
		u.Broken = append(u.Broken, g.Broken...)
		for k, v := range g.Platforms {
			u.Platforms[k] = v
		}
	}
	return u
}

// fetch returns a prefetched manifest or fetches it now.
func (g *Graph) fetch(ctx context.Context, src ReadOnly, d ocispec.Descriptor) (*Node, error) {
	if f, ok := g.pre[d.Digest]; ok {
		delete(g.pre, d.Digest)
		return f.n, f.err
	}
	return FetchNode(ctx, src, d)
}

// prefetch fetches the not yet seen manifests among descs concurrently,
// so a multi-platform index costs one round trip per window, not one per
// platform. Results are consumed in the usual order, so the walk stays
// deterministic.
func (g *Graph) prefetch(ctx context.Context, src ReadOnly, descs []ocispec.Descriptor) {
	var todo []ocispec.Descriptor
	dup := map[digest.Digest]bool{}
	for _, d := range descs {
		_, done := g.nodes[d.Digest]
		if _, pending := g.pre[d.Digest]; !done && !pending && !dup[d.Digest] && !g.seen[d.Digest] && (IsIndex(d.MediaType) || IsManifest(d.MediaType)) {
			dup[d.Digest] = true
			todo = append(todo, d)
		}
	}
	if len(todo) < 2 {
		return
	}
	res := make([]fetched, len(todo))
	var wg sync.WaitGroup
	for i, d := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := FetchNode(ctx, src, d)
			res[i] = fetched{n, err}
		}()
	}
	wg.Wait()
	if g.pre == nil {
		g.pre = map[digest.Digest]fetched{}
	}
	for i, d := range todo {
		g.pre[d.Digest] = res[i]
	}
}
