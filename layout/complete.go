package layout

import (
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// State is what a walk found under a descriptor: everything there, some of
// it absent (legal under an index, as docker and ctr export sparse
// indexes), or some of it unreadable or wrong. A worse state wins.
type State int

const (
	Whole  State = iota // everything below is present (and, as far as known, sound)
	Absent              // something below is not in the source
	Bad                 // something below is corrupt or malformed
)

func (s State) String() string { return [...]string{"whole", "absent", "bad"}[s] }

// LeafState overrides what a walk knows of a config or layer: verify
// hashes leaves after the walk and reports what it found through it. Nil
// means a present leaf is Whole.
type LeafState func(digest.Digest) (State, bool)

// Entry is one image an index offers, at any depth of nested indexes, or
// the image itself when the root is a manifest. Attestations are not
// entries: they go with the platform they describe.
type Entry struct {
	Desc ocispec.Descriptor
	// Platform is os/arch[/variant], or "" when neither the entry nor
	// its config says (an artifact).
	Platform string
	State    State
}

// Entries lists the images under root and the state of each: the one
// answer import, push and verify all give to "which platforms of this
// image are complete". A nested index is descended, so a platform absent
// two levels down is reported as that platform, not as its parent being
// whole. Entries the platform filter left out are not listed.
func (g *Graph) Entries(root digest.Digest, leaf LeafState) []Entry {
	n := g.nodes[root]
	if n == nil || n.Index == nil {
		d := ocispec.Descriptor{Digest: root}
		if n != nil {
			d = n.Desc
		}
		return []Entry{{Desc: d, State: g.State(root, leaf)}}
	}
	var out []Entry
	seen := map[digest.Digest]bool{}
	var walk func(idx *Node, depth int)
	walk = func(idx *Node, depth int) {
		for _, c := range idx.Index.Manifests {
			if isAttestation(c) || seen[c.Digest] || depth > DefaultMaxDepth {
				continue
			}
			seen[c.Digest] = true
			if child := g.nodes[c.Digest]; child != nil && child.Index != nil {
				walk(child, depth+1)
				continue
			}
			if !g.reached(c.Digest) {
				continue // left out by the platform filter: not asked for
			}
			out = append(out, Entry{Desc: c, Platform: PlatformString(c.Platform), State: g.State(c.Digest, leaf)})
		}
	}
	walk(n, 0)
	return out
}

// reached reports whether the walk went to d at all.
func (g *Graph) reached(d digest.Digest) bool { return g.seen[d] }

// State folds what lies under d. Answers without a leaf override are
// kept, so asking about every entry of a large index stays linear.
func (g *Graph) State(d digest.Digest, leaf LeafState) State {
	memo := g.whole
	if leaf != nil || memo == nil {
		memo = make(map[digest.Digest]State, len(g.nodes)+len(g.Missing)+len(g.Broken))
		for _, m := range g.Missing {
			memo[m.Digest] = Absent
		}
		for _, b := range g.Broken {
			memo[b.Desc.Digest] = Bad
		}
		if leaf == nil {
			g.whole = memo
		}
	}
	var st func(d digest.Digest, depth int) State
	st = func(d digest.Digest, depth int) State {
		if v, known := memo[d]; known {
			return v
		}
		n := g.nodes[d]
		if n == nil {
			v := Whole // a leaf the walk found present, or one it never asked for
			if leaf != nil {
				if s, ok := leaf(d); ok {
					v = s
				}
			}
			memo[d] = v
			return v
		}
		v := Whole
		if depth > DefaultMaxDepth {
			v = Bad
		}
		memo[d] = v // a cycle cannot pass the depth cap, but never recurse into one
		for _, c := range n.Children() {
			if s := st(c.Digest, depth+1); s > v {
				v = s
			}
		}
		memo[d] = v
		return v
	}
	return st(d, 0)
}

// Complete reports whether everything the walk reached under d is present
// and readable.
func (g *Graph) Complete(d digest.Digest) bool { return g.State(d, nil) == Whole }
