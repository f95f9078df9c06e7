package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// PullOptions tune Pull and Resolve.
type PullOptions struct {
	// Referrers also carries signatures, SBOMs and attestations: the
	// referrers of every manifest pulled (API or fallback tag) and
	// cosign's .sig/.att/.sbom tags, each under its subject's repository.
	Referrers bool
	// MaxReferrerBytes caps the referrer manifests one pull holds in
	// memory (0: DefaultMaxReferrerBytes). A registry decides how many
	// referrers it lists and how large, and all of them are kept until
	// the pull is written, so without a cap a hostile or bloated listing
	// could exhaust memory.
	MaxReferrerBytes int64
	Platforms        []ocispec.Platform
	Concurrency      int
	Progress         func(int64)
	// Total, if set, learns the bytes to transfer once manifests are read.
	Total func(int64)

	// platformsFromCopy leaves a single image's platform, which only its
	// config tells, to be read from the layout once the copy has put the
	// config there (Pull): read before the copy, it was a round trip in
	// series before the first layer moved, 50 ms over a WAN for each
	// pull. A plan streamed into an archive still reads it first.
	platformsFromCopy bool
}

// Pulled is one image as pulled.
type Pulled struct {
	Name      string        `json:"name"`
	Source    string        `json:"source"`
	Digest    digest.Digest `json:"digest"`
	Platforms []string      `json:"platforms"`
	// Filtered is true when --platform left some of an index's platforms
	// out; the index itself is kept byte for byte (digest unchanged).
	Filtered bool  `json:"filtered"`
	Size     int64 `json:"size"`
	// Repaired are blobs the layout held in a corrupt copy, replaced by
	// the pull with the registry's verified content.
	Repaired []digest.Digest `json:"repaired,omitempty"`
	// Resumed are blobs completed from the verified first bytes an
	// interrupted pull kept in the layout, fetching only the rest.
	Resumed []ResumedBlob `json:"resumed,omitempty"`
}

// ResumedBlob is a blob a pull took up where an interrupted one stopped.
type ResumedBlob struct {
	Digest digest.Digest `json:"digest"`
	Kept   int64         `json:"kept"` // bytes not fetched again
}

// Plan is what a pull will carry: the images, each with its graph, and a
// read-only Store over the registries they come from.
type Plan struct {
	Sources *remote.Sources
	Images  []layout.Image
	Graphs  []*layout.Graph
	Pulled  []Pulled
	// Cleaned is what killed runs had left in the destination layout and
	// the copy into it removed, for the user to be told.
	Cleaned []layout.Leftover
	// late are the Pulled whose platforms are read after the copy.
	late []latePlatforms

	// from, if set, is where the images come from instead of Sources:
	// a web layout, planned the same way; fromLabel names it in errors
	// (a registry's blob errors name their repository already).
	from      layout.ReadOnly
	fromLabel string
}

// store is what the planned images are read from.
func (p *Plan) store() layout.ReadOnly {
	if p.from != nil {
		return p.from
	}
	return p.Sources
}

// Resolve reads the manifests of every image refs names (and of their
// referrers with opts.Referrers), without downloading a layer. The result
// can be copied into a layout (Pull) or streamed into an archive.
func Resolve(ctx context.Context, c *remote.Client, refs []string, opts PullOptions) (*Plan, error) {
	p := &Plan{Sources: remote.NewSources()}
	found, err := resolveAll(ctx, c, refs, opts)
	if err != nil {
		return nil, err
	}
	// In the order of refs, whatever order the answers came in: the same
	// list gives the same index.json, and a blob two repositories list is
	// fetched from the first.
	for _, f := range found {
		ref, repo, desc, g := f.ref, f.repo, f.desc, f.g
		p.Sources.Add(repo, g)
		if f.config.raw != nil {
			p.Sources.KeepConfig(f.config.desc.Digest, f.config.raw)
		}
		if f.platforms == nil {
			p.late = append(p.late, latePlatforms{pulled: len(p.Pulled), g: g, root: desc})
		}
		name := entryName(ref.Repo, ref.Tag, desc.Digest)
		p.add(layout.Image{Ref: name, Desc: layout.Annotate(desc, name), NameFrom: layout.NameFromContainerd}, g)
		p.Pulled = append(p.Pulled, Pulled{Name: layout.Ref{Repo: ref.Repo, Tag: ref.Tag, Digest: desc.Digest}.String(), Source: f.source, Digest: desc.Digest,
			Platforms: f.platforms, Filtered: len(g.Filtered) > 0, Size: g.Size()})
		if opts.Referrers {
			if err := p.referrers(ctx, repo, ref.Repo, g, opts); err != nil {
				return nil, fmt.Errorf("pull %s: referrers: %w", ref, err)
			}
		}
	}
	return p, nil
}

// entryName is how an image is named in index.json: by tag, or, without
// one, by repo@digest. The digest must be part of the name: entries merge
// by name, so two referrers of one repository named by the repository
// alone would replace each other and leave all but one unreachable, and
// the name must be the one the entry reads back as, or a second pull
// would add it again.
func entryName(repo, tag string, d digest.Digest) layout.Ref {
	if tag != "" {
		return layout.Ref{Repo: repo, Tag: tag}
	}
	return layout.Ref{Repo: repo, Digest: d}
}

func (p *Plan) add(im layout.Image, g *layout.Graph) {
	p.Images = append(p.Images, im)
	p.Graphs = append(p.Graphs, g)
}

// walk reads one image's graph from repo and records where every part of
// it lives, keeping the (verified) manifests so nothing is asked twice.
func (p *Plan) walk(ctx context.Context, repo *remote.Repository, src layout.Store, desc ocispec.Descriptor, opts PullOptions) (*layout.Graph, error) {
	g, err := layout.Walk(ctx, src, []ocispec.Descriptor{desc}, layout.WalkOptions{Platforms: opts.Platforms})
	if err != nil {
		return nil, err
	}
	p.Sources.Add(repo, g)
	return g, nil
}

// Pull copies the images refs name from their registries into the layout
// at dir. Every blob is verified and committed as it arrives, so a re-run
// after an interruption fetches only what is missing; blobs shared between
// images are fetched once; the index.json entries are written last, once
// every image is complete.
func Pull(ctx context.Context, c *remote.Client, refs []string, dir string, opts PullOptions) ([]Pulled, error) {
	opts.platformsFromCopy = true
	p, err := Resolve(ctx, c, refs, opts)
	if err != nil {
		return nil, err
	}
	if err := p.into(ctx, dir, CopyOptions{Concurrency: opts.Concurrency, Progress: opts.Progress, Total: opts.Total}); err != nil {
		return nil, err
	}
	return p.Pulled, nil
}

// into copies the planned images into the layout at dir, committing each
// blob as it arrives so that a re-run fetches only what is missing, and
// naming them in index.json last.
func (p *Plan) into(ctx context.Context, dir string, opts CopyOptions) error {
	dst, err := layout.CreateDir(ctx, dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	p.Cleaned = dst.Cleaned()
	// One copy for all images: every blob in parallel, shared ones once.
	all := layout.Union(p.Graphs...)
	if opts.Total != nil {
		opts.Total(all.Size())
	}
	// Pinned before Copy looks for what is already there: a gc running
	// meanwhile keeps it, and the manifests Copy commits early, until the
	// index.json entries below name them.
	if err := dst.Pin(ctx, all.Descriptors()); err != nil {
		return err
	}
	if err := dst.CheckRoomFor(ctx, all.Blobs); err != nil {
		return err
	}
	// A bucket's images are copied, a registry's or a web server's pulled.
	verb := "pull"
	if p.from != nil && p.fromLabel == "" {
		verb = "copy"
	}
	if err := layout.Copy(ctx, p.store(), dst, all, layout.CopyOptions{Concurrency: opts.Concurrency, Adaptive: layout.NewAdaptive(), SkipExisting: true, VerifyExisting: true, Progress: opts.Progress, Retry: remote.Retryable}); err != nil {
		var ce *layout.CopyError
		if errors.As(err, &ce) {
			for i, im := range p.Images {
				if im.Desc.Digest == all.Owner(ce.Desc.Digest) && p.fromLabel != "" {
					return fmt.Errorf("pull %s from %s: %w", p.Images[i].Name(), p.fromLabel, err)
				} else if im.Desc.Digest == all.Owner(ce.Desc.Digest) {
					return fmt.Errorf("%s %s: %w", verb, p.Images[i].Name(), err)
				}
			}
		}
		return fmt.Errorf("%s: %w", verb, err)
	}
	// The same rule for configs as import and verify apply, read from the
	// verified local copies: no extra request, and nothing named that
	// verify would then call invalid.
	if _, bad, err := layout.CheckConfigs(ctx, dst, all); err != nil {
		name := ""
		for _, im := range p.Images {
			if im.Desc.Digest == all.Owner(bad) {
				name = im.Name()
			}
		}
		return fmt.Errorf("%s %s: manifest %s: %w", verb, name, bad, err)
	}
	for _, l := range p.late {
		p.Pulled[l.pulled].Platforms = layout.RootPlatforms(ctx, dst, l.g, l.root)
	}
	err = dst.UpdateIndex(ctx, func(cur []layout.Image) ([]layout.Image, error) {
		// Under the lock, manifests as well as layers: whatever removed
		// content meanwhile (a gc of an older ferry, a user) must not
		// leave an entry pointing at it.
		for _, d := range all.Descriptors() {
			if ok, err := dst.Exists(ctx, d); err != nil || !ok {
				return nil, fmt.Errorf("%s %s vanished from %s before the pull committed (removed by hand or by a concurrent gc?); run the pull again", d.MediaType, d.Digest, dir)
			}
		}
		return layout.MergeImages(cur, p.Images), nil
	})
	if err != nil {
		return err
	}
	for _, r := range dst.Repaired() {
		if i := p.owner(r.Desc.Digest); i >= 0 {
			p.Pulled[i].Repaired = append(p.Pulled[i].Repaired, r.Desc.Digest)
		}
	}
	for _, r := range dst.Resumed() {
		if i := p.owner(r.Desc.Digest); i >= 0 {
			p.Pulled[i].Resumed = append(p.Pulled[i].Resumed, ResumedBlob{Digest: r.Desc.Digest, Kept: r.From})
		}
	}
	return nil
}

// latePlatforms is an image whose platforms are read after the copy.
type latePlatforms struct {
	pulled int // its index in Plan.Pulled
	g      *layout.Graph
	root   ocispec.Descriptor
}

// owner is the index of the first image whose graph holds dg, or -1.
func (p *Plan) owner(dg digest.Digest) int {
	for i, im := range p.Images {
		if p.Graphs[i].Owner(dg) == im.Desc.Digest {
			return i
		}
	}
	return -1
}

// referrers finds what refers to the manifests of g, recursively (a
// signature of an SBOM), naming each by digest in its subject's repository
// or, for cosign tags, by the tag.
func (p *Plan) referrers(ctx context.Context, repo *remote.Repository, name string, g *layout.Graph, opts PullOptions) error {
	limit := opts.MaxReferrerBytes
	if limit <= 0 {
		limit = DefaultMaxReferrerBytes
	}
	budget := &budgetStore{Store: repo, limit: limit}
	seen := map[string]bool{}
	var queue []digest.Digest
	for _, n := range g.Nodes {
		queue = append(queue, n.Desc.Digest)
	}
	for depth := 0; len(queue) > 0 && depth < 4; depth++ {
		var next []digest.Digest
		for _, subject := range queue {
			found, err := attached(ctx, repo, subject)
			if err != nil {
				return err
			}
			for _, f := range found {
				tag, d := f.tag, f.desc
				if seen[tag+string(d.Digest)] {
					continue
				}
				seen[tag+string(d.Digest)] = true
				rg, err := p.walk(ctx, repo, budget, d, opts)
				if err != nil {
					return err
				}
				r := entryName(name, tag, d.Digest)
				p.add(layout.Image{Ref: r, Desc: layout.Annotate(d, r), NameFrom: layout.NameFromContainerd}, rg)
				p.Pulled = append(p.Pulled, Pulled{Name: layout.Ref{Repo: name, Tag: tag, Digest: d.Digest}.String(), Source: "referrer of " + subject.String(),
					Digest: d.Digest, Platforms: []string{}, Size: rg.Size()})
				for _, n := range rg.Nodes {
					next = append(next, n.Desc.Digest)
				}
			}
		}
		queue = next
	}
	return nil
}

// attachment is a referrer (no tag: named by digest) or a cosign tag.
type attachment struct {
	tag  string
	desc ocispec.Descriptor
}

// attached lists the referrers of subject and its cosign tags.
func attached(ctx context.Context, repo *remote.Repository, subject digest.Digest) ([]attachment, error) {
	refs, err := repo.Referrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	var out []attachment
	for _, d := range refs {
		out = append(out, attachment{desc: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
	}
	tags, err := repo.CosignTags(ctx, subject)
	if err != nil {
		return nil, err
	}
	for tag, d := range tags {
		out = append(out, attachment{tag: tag, desc: d})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].tag+string(out[i].desc.Digest) < out[j].tag+string(out[j].desc.Digest)
	})
	return out, nil
}

// DefaultMaxReferrerBytes is 64 MiB of referrer manifests per pull: a
// signature or SBOM manifest is a few KiB, so this is thousands of them,
// while the memory it costs (the bytes and their decoded form, about three
// times as much) stays small beside the images themselves.
const DefaultMaxReferrerBytes = 64 << 20

// budgetStore counts the manifests fetched through it against a limit and
// refuses the one that would exceed it before asking the registry for it,
// so the bytes held never pass the limit, however many referrers a
// registry lists.
type budgetStore struct {
	layout.Store
	limit int64
	used  atomic.Int64
}

func (b *budgetStore) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if layout.IsIndex(d.MediaType) || layout.IsManifest(d.MediaType) {
		if used := b.used.Add(max(d.Size, 0)); used > b.limit {
			return nil, fmt.Errorf("referrer manifest %s (%d bytes): %w: the referrers listed add up to more than %d MiB of manifests, which ferry keeps in memory until the pull is written; "+
				"pull without --referrers and pull the referrers you need by digest (REPO@DIGEST)", d.Digest, d.Size, layout.ErrTooLarge, b.limit>>20)
		}
	}
	return b.Store.Fetch(ctx, d)
}
