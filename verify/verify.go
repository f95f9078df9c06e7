package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Source is what verify reads: a store that can list its blobs and check
// one against a descriptor. archive.Source implements it for directories,
// in-place tars and streams alike.
type Source interface {
	layout.ReadOnly
	layout.Lister
	Check(ctx context.Context, d ocispec.Descriptor) error
}

// Options tune Check.
type Options struct {
	// Workers hash blobs in parallel; 0 means one per CPU.
	Workers int
	// Delta, for a delta archive, says what it left out by design.
	Delta *DeltaOptions
}

type checker struct {
	src     Source
	rep     *Report
	g       *layout.Graph
	leaves  map[digest.Digest]ocispec.Descriptor
	leafSt  map[digest.Digest]layout.State
	names   map[digest.Digest]string // root digest → first image name, for messages
	reached map[digest.Digest]bool   // everything the walk reached, once asked
	plat    map[digest.Digest]string // config digest → os/arch[/variant]
	// filtered, for a delta, are the index entries --platform left out.
	filtered map[digest.Digest]bool
}

// Check audits images in src. Problems found while opening or streaming the
// input are the caller's to add; Check covers the graph and the blobs. The
// graph is read by layout.Walk, the same walk import, push and copy make,
// with KeepGoing so that every problem is reported, not the first.
func Check(ctx context.Context, src Source, images []layout.Image, rep *Report, opts Options) *Report {
	if rep == nil {
		rep = &Report{}
	}
	c := &checker{src: src, rep: rep, leaves: map[digest.Digest]ocispec.Descriptor{},
		leafSt: map[digest.Digest]layout.State{}, names: map[digest.Digest]string{}, plat: map[digest.Digest]string{}}
	for _, cl := range layout.NameClashes(images) {
		c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindName, Image: cl.Name, Digest: string(cl.Digests[0]),
			Message: cl.String() + "; engines keep one without a word (docker load the last), and ferry import refuses it"})
	}
	roots := make([]ocispec.Descriptor, 0, len(images))
	for _, im := range images {
		c.checkName(im)
		if _, ok := c.names[im.Desc.Digest]; !ok {
			c.names[im.Desc.Digest] = im.Name()
		}
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, src, roots, layout.WalkOptions{AllowMissing: true, KeepGoing: true})
	if err != nil {
		// Only cancellation or a graph past ferry's caps stops the walk.
		name := ""
		var we *layout.WalkError
		if errors.As(err, &we) {
			name = c.names[we.Root.Digest]
		}
		c.problem(err, name, "")
		g = &layout.Graph{}
	}
	c.g = g
	for _, b := range g.Broken {
		c.problem(b.Err, c.owner(b.Desc.Digest), b.Desc.Digest)
	}
	for _, n := range g.Nodes {
		if n.Manifest != nil {
			c.checkConfig(ctx, n, c.owner(n.Desc.Digest))
		}
		if s := n.Subject(); s != nil {
			if ok, _ := src.Exists(ctx, *s); !ok {
				c.warn(KindSubject, c.owner(n.Desc.Digest), n.Desc.Digest, fmt.Sprintf("referrer %s refers to %s, which this archive does not hold", n.Desc.Digest, s.Digest))
			}
		}
	}
	for _, b := range g.Blobs {
		c.leaves[b.Digest] = b
	}
	c.expect(ctx, opts.Delta, roots)
	unref := c.unreferenced(ctx)
	c.hashAll(ctx, opts.Workers, unref)
	for _, im := range images {
		rep.Images = append(rep.Images, c.imageReport(im))
	}
	rep.Totals.Images = len(images)
	rep.Totals.Blobs = len(g.Nodes) + len(g.Missing) + len(g.Broken) + len(c.leaves)
	for _, d := range c.leaves {
		rep.Totals.Bytes += d.Size
	}
	for _, n := range g.Nodes {
		rep.Totals.Bytes += n.Desc.Size
	}
	if rep.Delta != nil { // not here to hash
		for _, e := range rep.Delta.Expected {
			if _, ok := c.leaves[e.Digest]; ok {
				rep.Totals.Bytes -= e.Size
			}
		}
	}
	rep.Totals.Unreferenced = len(unref)
	return rep.Finish()
}

// owner names the image through which the walk first reached d.
func (c *checker) owner(d digest.Digest) string { return c.names[c.g.Owner(d)] }

// leafState tells the graph what hashing found of each config and layer.
func (c *checker) leafState(d digest.Digest) (layout.State, bool) {
	st, ok := c.leafSt[d]
	return st, ok
}

// Finish fills the totals and the verdict; a report with any problem is
// not OK, warnings alone do not fail it.
func (r *Report) Finish() *Report {
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	if r.Warnings == nil {
		r.Warnings = []Problem{}
	}
	if r.Images == nil {
		r.Images = []ImageReport{}
	}
	r.Totals.Problems, r.Totals.Warnings = len(r.Problems), len(r.Warnings)
	r.OK = len(r.Problems) == 0
	return r
}

// Add records a problem found outside Check (opening, streaming).
func (r *Report) Add(p Problem) { r.Problems = append(r.Problems, p) }

// KindOf maps an error to a problem kind by its sentinel.
func KindOf(err error) string {
	switch {
	case errors.Is(err, layout.ErrDigestMismatch):
		return KindMismatch
	case errors.Is(err, layout.ErrSizeMismatch):
		return KindSize
	case errors.Is(err, layout.ErrNotFound):
		return KindMissing
	case errors.Is(err, layout.ErrUnsafe):
		return KindUnsafe
	case errors.Is(err, layout.ErrUnsupportedDigest):
		return KindUnsupported
	case errors.Is(err, io.ErrUnexpectedEOF):
		return KindInvalid
	}
	return KindInvalid
}

func (c *checker) problem(err error, image string, d digest.Digest) {
	c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindOf(err), Image: image, Digest: string(d), Message: err.Error()})
}

func (c *checker) warn(kind, image string, d digest.Digest, msg string) {
	c.rep.Warnings = append(c.rep.Warnings, Problem{Kind: kind, Image: image, Digest: string(d), Message: msg})
}

// checkName flags names that engines would misread.
func (c *checker) checkName(im layout.Image) {
	if im.Note != "" {
		c.warn(KindName, im.Name(), im.Desc.Digest, im.Note)
	}
	if im.Ref.Digest != "" && im.Ref.Digest != im.Desc.Digest {
		c.problem(fmt.Errorf("name %s pins digest %s but the entry points at %s: %w", im.Ref, im.Ref.Digest, im.Desc.Digest, layout.ErrDigestMismatch), im.Name(), im.Desc.Digest)
	}
	if v, ok := im.Desc.Annotations[ocispec.AnnotationRefName]; ok && !layout.ValidRefName(v) {
		c.warn(KindName, im.Name(), im.Desc.Digest, fmt.Sprintf("ref.name %q does not follow the image-spec grammar; skopeo and oras will refuse it", v))
	}
}

// checkConfig reads an image config (verified) and checks it against its
// manifest: docker load refuses an image whose diff_ids and layers differ.
func (c *checker) checkConfig(ctx context.Context, n *layout.Node, image string) {
	cfg := n.Manifest.Config
	if !layout.IsConfig(cfg.MediaType) {
		return
	}
	if _, done := c.leafSt[cfg.Digest]; done {
		return
	}
	b, err := layout.ReadAll(ctx, c.src, cfg, layout.MaxManifestSize)
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			c.leafSt[cfg.Digest] = layout.Absent
			return
		}
		c.leafSt[cfg.Digest] = layout.Bad
		c.problem(fmt.Errorf("config %s: %w", cfg.Digest, err), image, cfg.Digest)
		return
	}
	c.leafSt[cfg.Digest] = layout.Whole
	f, err := layout.CheckConfig(b, n.Manifest)
	if f.Platform != "" {
		c.plat[cfg.Digest] = f.Platform
	}
	if f.Note != "" {
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%s: %s", image, f.Note))
	}
	if err != nil {
		c.leafSt[cfg.Digest] = layout.Bad
		c.problem(err, image, cfg.Digest)
	}
}

// unreferenced lists blobs nothing reached; they are hashed too, because a
// corrupt blob is corruption whether or not it is in use.
func (c *checker) unreferenced(ctx context.Context) []ocispec.Descriptor {
	all, err := c.src.Blobs(ctx)
	if err != nil {
		c.problem(fmt.Errorf("listing blobs: %w", err), "", "")
		return nil
	}
	var out []ocispec.Descriptor
	for _, b := range all {
		if b.Err != nil {
			c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindOf(b.Err), File: b.Path, Message: fmt.Sprintf("%s: %v", b.Path, b.Err)})
			continue
		}
		if c.walked(b.Digest) {
			continue
		}
		out = append(out, ocispec.Descriptor{MediaType: "application/octet-stream", Digest: b.Digest, Size: b.Size})
		c.warn(KindUnreferenced, "", b.Digest, fmt.Sprintf("%s (%d bytes) is not referenced by any image", b.Path, b.Size))
	}
	return out
}

// hashAll checks every leaf not yet checked, largest first so one huge
// layer does not start last, on all cores.
func (c *checker) hashAll(ctx context.Context, workers int, extra []ocispec.Descriptor) {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var work []ocispec.Descriptor
	for d, desc := range c.leaves {
		if _, done := c.leafSt[d]; !done && !layout.IsNonDistributable(desc.MediaType) {
			work = append(work, desc)
		}
	}
	work = append(work, extra...)
	sort.Slice(work, func(i, j int) bool {
		if work[i].Size != work[j].Size {
			return work[i].Size > work[j].Size
		}
		return work[i].Digest < work[j].Digest
	})
	results := make([]error, len(work))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = c.src.Check(ctx, work[i])
			}
		}()
	}
	for i := range work {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, d := range work {
		err := results[i]
		switch {
		case err == nil:
			c.leafSt[d.Digest] = layout.Whole
		case errors.Is(err, layout.ErrNotFound):
			c.leafSt[d.Digest] = layout.Absent
		default:
			c.leafSt[d.Digest] = layout.Bad
			c.problem(err, c.owner(d.Digest), d.Digest)
		}
	}
}

// walked reports whether the walk reached d, present or not.
func (c *checker) walked(d digest.Digest) bool {
	if c.reached == nil {
		c.reached = map[digest.Digest]bool{}
		for _, n := range c.g.Nodes {
			c.reached[n.Desc.Digest] = true
		}
		for _, m := range c.g.Missing {
			c.reached[m.Digest] = true
		}
		for _, b := range c.g.Broken {
			c.reached[b.Desc.Digest] = true
		}
		for d := range c.leaves {
			c.reached[d] = true
		}
	}
	return c.reached[d]
}
