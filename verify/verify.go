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
	layout.Store
	layout.Lister
	Check(ctx context.Context, d ocispec.Descriptor) error
}

// Options tune Check.
type Options struct {
	// Workers hash blobs in parallel; 0 means one per CPU.
	Workers int
}

// status of a blob or of the subtree under a document.
type status int

const (
	stOK      status = iota
	stMissing        // absent: legal in a sparse index, fatal elsewhere
	stBad            // present but wrong
)

type doc struct {
	node *layout.Node
	st   status
}

type checker struct {
	src    Source
	rep    *Report
	docs   map[digest.Digest]*doc
	leaves map[digest.Digest]ocispec.Descriptor
	leafSt map[digest.Digest]status
	owner  map[digest.Digest]string // first image that reached a digest, for messages
	plat   map[digest.Digest]string // config digest → os/arch[/variant]
}

// Check audits images in src. Problems found while opening or streaming the
// input are the caller's to add; Check covers the graph and the blobs.
func Check(ctx context.Context, src Source, images []layout.Image, rep *Report, opts Options) *Report {
	if rep == nil {
		rep = &Report{}
	}
	c := &checker{src: src, rep: rep, docs: map[digest.Digest]*doc{}, leaves: map[digest.Digest]ocispec.Descriptor{},
		leafSt: map[digest.Digest]status{}, owner: map[digest.Digest]string{}, plat: map[digest.Digest]string{}}
	for _, cl := range layout.NameClashes(images) {
		c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindName, Image: cl.Name, Digest: string(cl.Digests[0]),
			Message: cl.String() + "; engines keep one without a word (docker load the last), and ferry import refuses it"})
	}
	for _, im := range images {
		c.checkName(im)
		c.visit(ctx, im.Desc, im.Name(), 0)
	}
	unref := c.unreferenced(ctx)
	c.hashAll(ctx, opts.Workers, unref)
	for _, im := range images {
		rep.Images = append(rep.Images, c.imageReport(im))
	}
	rep.Totals.Images = len(images)
	rep.Totals.Blobs = len(c.docs) + len(c.leaves)
	for _, d := range c.leaves {
		rep.Totals.Bytes += d.Size
	}
	for _, d := range c.docs {
		if d.node != nil {
			rep.Totals.Bytes += d.node.Desc.Size
		}
	}
	rep.Totals.Unreferenced = len(unref)
	return rep.Finish()
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

// visit walks one descriptor. Documents are fetched (verified, size-capped)
// and decoded now; leaves are collected to be hashed in parallel later.
func (c *checker) visit(ctx context.Context, d ocispec.Descriptor, image string, depth int) {
	if _, ok := c.docs[d.Digest]; ok {
		return
	}
	if _, ok := c.leaves[d.Digest]; ok {
		return
	}
	if err := layout.ValidateDescriptor(d); err != nil {
		c.docs[d.Digest] = &doc{st: stBad}
		c.problem(fmt.Errorf("descriptor: %w", err), image, d.Digest)
		return
	}
	if _, ok := c.owner[d.Digest]; !ok {
		c.owner[d.Digest] = image
	}
	if !layout.IsIndex(d.MediaType) && !layout.IsManifest(d.MediaType) {
		c.leaves[d.Digest] = d
		return
	}
	dc := &doc{}
	c.docs[d.Digest] = dc
	if depth > layout.DefaultMaxDepth {
		dc.st = stBad
		c.problem(fmt.Errorf("%s: %w: indexes nested deeper than %d levels", d.Digest, layout.ErrInvalid, layout.DefaultMaxDepth), image, d.Digest)
		return
	}
	n, err := layout.FetchNode(ctx, c.src, d)
	if err != nil {
		dc.st = stBad
		if errors.Is(err, layout.ErrNotFound) {
			dc.st = stMissing
		}
		c.problemOrSparse(err, image, d, depth)
		return
	}
	dc.node = n
	for _, ch := range n.Children() {
		c.visit(ctx, ch, image, depth+1)
	}
	if n.Manifest != nil {
		c.checkConfig(ctx, n, image)
	}
	if s := n.Subject(); s != nil {
		if ok, _ := c.src.Exists(ctx, *s); !ok {
			c.warn(KindSubject, image, d.Digest, fmt.Sprintf("referrer %s refers to %s, which this archive does not hold", d.Digest, s.Digest))
		}
	}
}

// problemOrSparse defers the verdict on absent content below an index: it
// may be a legitimately sparse platform, decided in imageReport.
func (c *checker) problemOrSparse(err error, image string, d ocispec.Descriptor, depth int) {
	if depth > 0 && errors.Is(err, layout.ErrNotFound) {
		return
	}
	c.problem(err, image, d.Digest)
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
			c.leafSt[cfg.Digest] = stMissing
			return
		}
		c.leafSt[cfg.Digest] = stBad
		c.problem(fmt.Errorf("config %s: %w", cfg.Digest, err), image, cfg.Digest)
		return
	}
	c.leafSt[cfg.Digest] = stOK
	f, err := layout.CheckConfig(b, n.Manifest)
	if f.Platform != "" {
		c.plat[cfg.Digest] = f.Platform
	}
	if f.Note != "" {
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%s: %s", image, f.Note))
	}
	if err != nil {
		c.leafSt[cfg.Digest] = stBad
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
		if _, ok := c.docs[b.Digest]; ok {
			continue
		}
		if _, ok := c.leaves[b.Digest]; ok {
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
			c.leafSt[d.Digest] = stOK
		case errors.Is(err, layout.ErrNotFound):
			c.leafSt[d.Digest] = stMissing
		default:
			c.leafSt[d.Digest] = stBad
			c.problem(err, c.owner[d.Digest], d.Digest)
		}
	}
}
