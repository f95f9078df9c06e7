package verify

import (
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// subtree folds the status of everything under d and collects the absent
// digests and the bytes it holds.
func (c *checker) subtree(d digest.Digest, seen map[digest.Digest]bool, missing *[]digest.Digest, size *int64) status {
	if seen[d] {
		return stOK
	}
	seen[d] = true
	if dc, ok := c.docs[d]; ok {
		st := dc.st
		if dc.node == nil {
			if st == stMissing {
				*missing = append(*missing, d)
			}
			return st
		}
		*size += dc.node.Desc.Size
		for _, ch := range dc.node.Children() {
			if s := c.subtree(ch.Digest, seen, missing, size); s > st {
				st = s
			}
		}
		return st
	}
	desc, isLeaf := c.leaves[d]
	st := c.leafSt[d]
	if isLeaf && layout.IsNonDistributable(desc.MediaType) {
		return stOK // carried only if present; never fetched from urls
	}
	if st == stMissing {
		*missing = append(*missing, d)
	} else if isLeaf {
		*size += desc.Size
	}
	return st
}

// imageReport decides an image's status. Absent content under an index is
// a sparse platform (a warning) as long as one platform is whole; absent
// content of a plain image, or of every platform, is a problem.
func (c *checker) imageReport(im layout.Image) ImageReport {
	ir := ImageReport{Name: im.Name(), NameFrom: im.NameFrom, Digest: string(im.Desc.Digest), MediaType: im.Desc.MediaType, Platforms: []string{}, Status: "ok"}
	var missing []digest.Digest
	st := c.subtree(im.Desc.Digest, map[digest.Digest]bool{}, &missing, &ir.Size)
	root := c.docs[im.Desc.Digest]
	if root == nil || root.node == nil || root.node.Index == nil {
		if root != nil && root.node != nil && root.node.Manifest != nil {
			if p := c.platformOf(root.node); p != "" {
				ir.Platforms = append(ir.Platforms, p)
			}
		}
		c.reportMissing(im, missing, &ir)
		if st != stOK {
			ir.Status = "bad"
		}
		return ir
	}
	complete, bad := 0, false
	for _, ch := range root.node.Index.Manifests {
		var m []digest.Digest
		var sz int64
		s := c.subtree(ch.Digest, map[digest.Digest]bool{}, &m, &sz)
		name := layout.PlatformString(ch.Platform)
		if name == "" {
			name = ch.Digest.String()
		}
		switch s {
		case stOK:
			complete++
			if ch.Platform != nil && ch.Platform.OS != "unknown" {
				ir.Platforms = append(ir.Platforms, name)
			}
		case stMissing:
			ir.Incomplete = append(ir.Incomplete, name)
		default:
			bad = true
		}
	}
	sort.Strings(ir.Platforms)
	switch {
	case bad:
		ir.Status = "bad"
	case complete == 0 && len(root.node.Index.Manifests) > 0:
		ir.Status = "bad"
		c.reportMissing(im, missing, &ir)
	case len(ir.Incomplete) > 0:
		ir.Status = "sparse"
		c.warn(KindSparse, im.Name(), im.Desc.Digest, fmt.Sprintf("sparse index: content of %v is absent; complete: %v", ir.Incomplete, ir.Platforms))
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
