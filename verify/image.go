package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// under collects, once each, what lies below root: the bytes present and
// the digests absent.
func (c *checker) under(root digest.Digest) (size int64, missing []digest.Digest) {
	absent := map[digest.Digest]bool{}
	for _, m := range c.g.Missing {
		absent[m.Digest] = true
	}
	seen := map[digest.Digest]bool{}
	var walk func(d digest.Digest)
	walk = func(d digest.Digest) {
		if seen[d] {
			return
		}
		seen[d] = true
		if n := c.g.Node(d); n != nil {
			size += n.Desc.Size
			for _, ch := range n.Children() {
				walk(ch.Digest)
			}
			return
		}
		desc, isLeaf := c.leaves[d]
		switch {
		case absent[d]:
			missing = append(missing, d)
		case !isLeaf:
		case layout.IsNonDistributable(desc.MediaType):
			// carried only if present; never fetched from urls
		case c.leafSt[d] == layout.Absent:
			missing = append(missing, d)
		default:
			size += desc.Size
		}
	}
	walk(root)
	return size, missing
}

// leafOrForeign is the leaf override verify gives the graph: what hashing
// found, and non-distributable layers always whole, since they are carried
// only when present.
func (c *checker) leafOrForeign(d digest.Digest) (layout.State, bool) {
	if desc, ok := c.leaves[d]; ok && layout.IsNonDistributable(desc.MediaType) {
		return layout.Whole, true
	}
	return c.leafState(d)
}

// imageReport decides an image's status from layout.Graph.Entries, the
// same answer import and push give. Absent content under an index is a
// sparse platform (a warning) as long as one platform is whole; absent
// content of a plain image, or of every platform, is a problem.
func (c *checker) imageReport(im layout.Image) ImageReport {
	ir := ImageReport{Name: im.Name(), NameFrom: im.NameFrom, Digest: string(im.Desc.Digest), MediaType: im.Desc.MediaType, Platforms: []string{}, Status: "ok"}
	var missing []digest.Digest
	ir.Size, missing = c.under(im.Desc.Digest)
	root := c.g.Node(im.Desc.Digest)
	if root == nil || root.Index == nil {
		if root != nil && root.Manifest != nil {
			if p := c.platformOf(root); p != "" {
				ir.Platforms = append(ir.Platforms, p)
			}
		}
		c.reportMissing(im, missing, &ir)
		if c.g.State(im.Desc.Digest, c.leafOrForeign) != layout.Whole {
			ir.Status = "bad"
		}
		return ir
	}
	entries := c.g.Entries(im.Desc.Digest, c.leafOrForeign)
	complete, bad := 0, false
	var absent []string
	lost := false // absent, in a delta, without being left out by --platform
	for _, e := range entries {
		name := e.Platform
		if name == "" {
			name = e.Desc.Digest.String()
		}
		switch e.State {
		case layout.Whole:
			complete++
			if e.Desc.Platform != nil && e.Desc.Platform.OS != "unknown" {
				ir.Platforms = append(ir.Platforms, name)
			}
		case layout.Absent:
			ir.Incomplete = append(ir.Incomplete, name)
			lost = lost || !c.filtered[e.Desc.Digest]
			absent = append(absent, fmt.Sprintf("%s (%s)", name, e.Desc.Digest))
		default:
			bad = true
		}
	}
	sort.Strings(ir.Platforms)
	switch {
	case bad:
		ir.Status = "bad"
	case complete == 0 && len(entries) > 0:
		ir.Status = "bad"
		c.reportMissing(im, missing, &ir)
	case len(ir.Incomplete) > 0 && c.rep.Delta != nil && lost:
		// A delta's record says what it left out; anything else absent
		// was lost on the way, not left out by design.
		c.reportMissing(im, missing, &ir)
	case len(ir.Incomplete) > 0:
		ir.Status = "sparse"
		c.warn(KindSparse, im.Name(), im.Desc.Digest, fmt.Sprintf("sparse index: content of %s is absent; complete: %v", strings.Join(absent, ", "), ir.Platforms))
	}
	return ir
}

func (c *checker) reportMissing(im layout.Image, missing []digest.Digest, ir *ImageReport) {
	for _, d := range missing {
		what := "blob"
		if desc, ok := c.leaves[d]; ok {
			what = fmt.Sprintf("%s (%d bytes)", desc.MediaType, desc.Size)
		}
		c.rep.Problems = append(c.rep.Problems, Problem{Kind: KindMissing, Image: im.Name(), Digest: string(d),
			Message: fmt.Sprintf("image %s: %s %s is missing", im.Name(), what, d)})
		ir.Status = "bad"
	}
}

// platformOf reads the platform of a single-image manifest from its config.
func (c *checker) platformOf(n *layout.Node) string {
	return c.plat[n.Manifest.Config.Digest]
}
