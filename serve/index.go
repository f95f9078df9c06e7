package serve

import (
	"context"
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Content is what the server reads: any read-only store that can list its
// images (layout.FS, archive.Source).
type Content interface {
	layout.ReadOnly
	layout.Lister
}

// repository is what one served name holds. A registry client pulls per
// repository, so a blob is served only under the names whose images
// reference it: asking another repository for it is BLOB_UNKNOWN, as on a
// registry, and nothing can be reached that the name does not lead to.
type repository struct {
	name string
	tags map[string]ocispec.Descriptor
	// tagList is tags, sorted, for tags/list pagination.
	tagList []string
	// content holds every manifest, index and blob the tags (and the
	// referrers of what they lead to) reach.
	content map[digest.Digest]ocispec.Descriptor
	// referrers lists, per subject digest, the manifests that refer to it.
	referrers map[digest.Digest][]ocispec.Descriptor
}

// index is every served repository, built once at start from the images
// the store lists. Manifests are not kept: they are read (and verified)
// again on each request, so memory grows with the number of digests, not
// with their documents.
type index struct {
	repos map[string]*repository
	names []string // sorted, for _catalog
	// owner names an image each digest belongs to, for the log.
	owner map[digest.Digest]string
	// Notes say what could not be served as named (clashes, images
	// without a repository), for the log.
	Notes []string
}

// Options say how images are named.
type Options struct {
	// Prefix rewrites every repository name.
	Prefix Prefix
	// DefaultRepo is the repository images named by a tag alone (or not
	// at all) are served under; without it they are left out.
	DefaultRepo string
}

// stored is one repository of the store and what it holds, before names
// are given.
type stored struct {
	tags    map[string]ocispec.Descriptor
	roots   []ocispec.Descriptor
	content map[digest.Digest]ocispec.Descriptor
	refs    map[digest.Digest][]ocispec.Descriptor
}

// subjectNode is a manifest with a subject, found anywhere in the store.
type subjectNode struct {
	subject digest.Digest
	desc    ocispec.Descriptor
	graph   *layout.Graph
}

func buildIndex(ctx context.Context, src Content, opts Options) (*index, error) {
	ims, err := src.Names(ctx)
	if err != nil {
		return nil, err
	}
	idx := &index{repos: map[string]*repository{}, owner: map[digest.Digest]string{}}
	byRepo := map[string]*stored{}
	var order []string
	var referrers []subjectNode
	graphs := map[digest.Digest]*layout.Graph{}
	for _, im := range ims {
		repo := im.Ref.Repo
		if repo == "" {
			repo = opts.DefaultRepo
		}
		g := graphs[im.Desc.Digest]
		if g == nil {
			// Sparse layouts (docker's, ctr's) leave blobs out: those are
			// BLOB_UNKNOWN when asked for, the rest is served.
			g, err = layout.Walk(ctx, src, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{AllowMissing: true})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", im.Name(), err)
			}
			graphs[im.Desc.Digest] = g
			for _, d := range g.Descriptors() {
				if _, ok := idx.owner[d.Digest]; !ok {
					idx.owner[d.Digest] = im.Name()
				}
			}
			for _, n := range g.Nodes {
				if s := n.Subject(); s != nil {
					referrers = append(referrers, subjectNode{subject: s.Digest, desc: referrerDesc(n), graph: g})
				}
			}
		}
		if repo == "" {
			if len(g.Nodes) > 0 && g.Nodes[len(g.Nodes)-1].Subject() != nil {
				continue // a referrer: served with its subject below
			}
			idx.Notes = append(idx.Notes, fmt.Sprintf("%s is not served: it names no repository (give --repo to serve such images)", im.Name()))
			continue
		}
		s := byRepo[repo]
		if s == nil {
			s = &stored{tags: map[string]ocispec.Descriptor{}, content: map[digest.Digest]ocispec.Descriptor{}, refs: map[digest.Digest][]ocispec.Descriptor{}}
			byRepo[repo] = s
			order = append(order, repo)
		}
		if tag := im.Ref.Tag; tag != "" {
			if was, ok := s.tags[tag]; ok && was.Digest != im.Desc.Digest {
				idx.Notes = append(idx.Notes, fmt.Sprintf("%s:%s names both %s and %s; serving the first", repo, tag, was.Digest, im.Desc.Digest))
			} else if tagRe.MatchString(tag) {
				s.tags[tag] = im.Desc
			} else {
				idx.Notes = append(idx.Notes, fmt.Sprintf("%s:%s is served by digest only: the tag is not one a registry allows", repo, tag))
			}
		}
		addGraph(s, g)
	}
	// A referrer belongs to every repository that holds its subject,
	// wherever the store keeps it: pulling a signed image's signature is
	// asking its own repository. Referrers of referrers follow.
	for _, s := range byRepo {
		for added := true; added; {
			added = false
			for _, r := range referrers {
				if _, has := s.content[r.subject]; !has {
					continue
				}
				if !containsDesc(s.refs[r.subject], r.desc.Digest) {
					s.refs[r.subject] = append(s.refs[r.subject], r.desc)
				}
				if _, has := s.content[r.desc.Digest]; !has {
					addGraph(s, r.graph)
					added = true
				}
			}
		}
	}
	claims := map[string][]string{}
	for _, repo := range order {
		for _, n := range servedNames(repo, opts.Prefix) {
			claims[n] = append(claims[n], repo)
		}
	}
	for n, repos := range claims {
		repo := repos[0]
		if len(repos) > 1 {
			// Two stored repositories want one name (ghcr.io/a/b and
			// docker.io/a/b both as a/b): the one whose full name it is
			// keeps it, otherwise nobody does rather than a guess.
			repo = ""
			for _, r := range repos {
				if opts.Prefix.apply(r) == n {
					repo = r
				}
			}
			if repo == "" {
				idx.Notes = append(idx.Notes, fmt.Sprintf("%s is not served: %v all want the name; ask for their full names", n, repos))
				continue
			}
		}
		if !validName(n) {
			idx.Notes = append(idx.Notes, fmt.Sprintf("%s is not served as %q: not a valid repository name", repo, n))
			continue
		}
		s := byRepo[repo]
		r := &repository{name: n, tags: s.tags, content: s.content, referrers: s.refs}
		for t := range s.tags {
			r.tagList = append(r.tagList, t)
		}
		sort.Strings(r.tagList)
		idx.repos[n] = r
		idx.names = append(idx.names, n)
	}
	sort.Strings(idx.names)
	sort.Strings(idx.Notes)
	return idx, nil
}

// addGraph records everything g reaches as content of s.
func addGraph(s *stored, g *layout.Graph) {
	for _, n := range g.Nodes {
		d := n.Desc
		if d.MediaType == "" {
			// An index.json entry may omit it; the document says what it
			// is, and a client needs it as the Content-Type.
			d.MediaType = ocispec.MediaTypeImageManifest
			if n.Index != nil {
				d.MediaType = ocispec.MediaTypeImageIndex
			}
		}
		s.content[d.Digest] = d
	}
	for _, b := range g.Blobs {
		if _, ok := s.content[b.Digest]; !ok {
			s.content[b.Digest] = ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size}
		}
	}
	for _, m := range g.Missing {
		delete(s.content, m.Digest)
	}
}

func containsDesc(ds []ocispec.Descriptor, d digest.Digest) bool {
	for _, x := range ds {
		if x.Digest == d {
			return true
		}
	}
	return false
}

// referrerDesc is the entry the referrers API lists for n: its artifact
// type (the config's media type when it declares none, as the spec says)
// and its annotations, so a client can filter without fetching it.
func referrerDesc(n *layout.Node) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: n.Desc.MediaType, Digest: n.Desc.Digest, Size: n.Desc.Size}
	switch {
	case n.Manifest != nil:
		d.ArtifactType, d.Annotations = n.Manifest.ArtifactType, n.Manifest.Annotations
		if d.ArtifactType == "" {
			d.ArtifactType = n.Manifest.Config.MediaType
		}
		if d.MediaType == "" {
			d.MediaType = ocispec.MediaTypeImageManifest
		}
	case n.Index != nil:
		d.ArtifactType, d.Annotations = n.Index.ArtifactType, n.Index.Annotations
		if d.MediaType == "" {
			d.MediaType = ocispec.MediaTypeImageIndex
		}
	}
	return d
}
