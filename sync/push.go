package sync

import (
	"context"
	"fmt"
	"strings"
	gosync "sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// PushOptions tune Push.
type PushOptions struct {
	// To rewrites names to another registry and prefix ("host[/prefix]"),
	// keeping repository paths; empty pushes under the names carried.
	To string
	// As pushes a single image under exactly this name (ferry copy).
	As *layout.Ref
	// Platforms pushes only these platforms of multi-platform images,
	// under a narrowed index with its own digest (nil: all there are).
	Platforms []ocispec.Platform
	// SkipUnnamed leaves out, with a note, images that have no repository
	// name and are not referrers of an image pushed (ferry push SRC with
	// no NAME): one unnamed image must not block all the others.
	SkipUnnamed bool
	DryRun      bool
	Concurrency int
	Progress    func(int64)
	// Have is the have-list a delta archive was cut against, if the
	// pusher has it (ferry push --have): the repositories it names on the
	// target's registry are where a left-out blob the target repository
	// lacks is mounted from (delta.go). Its digest must be the delta's.
	Have *layout.HaveList
}

// Pushed is one line of the digest map Push returns.
type Pushed struct {
	Source string        `json:"source"`
	Target string        `json:"target"`
	Digest digest.Digest `json:"digest"`
	// SourceDigest is set when the index went narrowed (a sparse source
	// or --platform): Digest is then the new index, LeftOut says what
	// was not pushed and why.
	SourceDigest digest.Digest `json:"sourceDigest,omitempty"`
	LeftOut      []string      `json:"leftOut,omitempty"`
	// NotPushed says why an image was left out (SkipUnnamed).
	NotPushed string `json:"notPushed,omitempty"`
	// Blobs counts blobs sent; Skipped those the registry already had.
	Blobs   int `json:"blobs"`
	Skipped int `json:"skipped"`
}

// Target computes where an image goes: its own name, or rewritten under
// to (registry[/prefix]) with the repository path kept.
func Target(im layout.Image, to string) (layout.Ref, error) {
	if im.Ref.Repo == "" {
		return layout.Ref{}, fmt.Errorf("image %s has no repository name; name it with `ferry tag` first", im.Name())
	}
	r := layout.Ref{Repo: im.Ref.Repo, Tag: im.Ref.Tag}
	if to != "" {
		_, path, _ := strings.Cut(im.Ref.Repo, "/")
		repo := strings.TrimSuffix(to, "/") + "/" + path
		parsed, err := layout.ParseRef(repo + ":x")
		if err != nil {
			return layout.Ref{}, fmt.Errorf("--to %s: %w", to, err)
		}
		r.Repo = parsed.Repo
	}
	return r, nil
}

// Push sends images from src to their registries: blobs first (each
// verified as it is read, skipped when the registry has it), then
// manifests children before parents, exactly as stored, then the tag.
func Push(ctx context.Context, c *remote.Client, src layout.ReadOnly, images []layout.Image, opts PushOptions) ([]Pushed, error) {
	// Plan: walk every image once, checking every blob is there (a push
	// must never leave a partial image behind a tag), and find its target.
	type job struct {
		src    layout.ReadOnly
		im     layout.Image
		g      *layout.Graph
		target layout.Ref
		err    error
		from   digest.Digest
		left   []string
	}
	views, err := deltaViews(ctx, c, src, images, opts)
	if err != nil {
		return nil, err
	}
	jobs := make([]job, 0, len(images))
	subjectRepo := map[digest.Digest]string{}
	for i, orig := range images {
		from := src
		if v, ok := views[i]; ok {
			from = v
		}
		s, im, g, left, err := planImage(ctx, from, orig, opts.Platforms)
		if err != nil {
			return nil, fmt.Errorf("push %s: %w", orig.Name(), err)
		}
		j := job{src: s, im: im, g: g, left: left}
		if im.Desc.Digest != orig.Desc.Digest {
			j.from = orig.Desc.Digest
		}
		j.target, j.err = Target(im, opts.To)
		if opts.As != nil {
			j.target, j.err = *opts.As, nil
		}
		if j.err == nil {
			for _, n := range g.Nodes {
				subjectRepo[n.Desc.Digest] = j.target.Repo
			}
			if j.from != "" { // a referrer of the whole index goes beside what went
				subjectRepo[j.from] = j.target.Repo
			}
		}
		jobs = append(jobs, j)
	}
	// Referrers carried without a name go, by digest, to the repository
	// of the image they refer to.
	for i, j := range jobs {
		if j.err != nil && j.im.Ref.Repo == "" {
			if n := j.g.Node(j.im.Desc.Digest); n != nil && n.Subject() != nil && subjectRepo[n.Subject().Digest] != "" {
				jobs[i].target, jobs[i].err = layout.Ref{Repo: subjectRepo[n.Subject().Digest]}, nil
			}
		}
		if jobs[i].err != nil && !(opts.SkipUnnamed && j.im.Ref.Repo == "") {
			return nil, jobs[i].err
		}
	}
	// Blobs first, of all images at once; then each image's manifests
	// and tag in order, so a tag never names an image whose blobs failed,
	// and the images before it are complete as when they went one by one.
	work := make([]*blobPush, len(jobs))
	if !opts.DryRun {
		var ws []*blobPush
		var hosts []string
		for i, j := range jobs {
			if j.err != nil {
				continue
			}
			repo := c.Repository(j.target, true)
			work[i] = &blobPush{src: j.src, g: j.g, dst: &countingStore{Store: repo}}
			ws, hosts = append(ws, work[i]), append(hosts, repo.Host)
		}
		limit := opts.Concurrency
		if limit <= 0 {
			limit = DefaultPushConcurrency
		}
		pushAllBlobs(ctx, ws, hosts, limit, opts)
	}
	// Each image's documents are a few small requests in a row: on a long
	// link the round trips add up image after image, so images go at
	// once. Referrers go after, one by one: the fallback tag of a
	// registry without the referrers API is read, changed and written.
	done := make([]Pushed, len(jobs))
	errs := make([]error, len(jobs))
	one := func(i int) {
		j := jobs[i]
		done[i], errs[i] = pushOne(ctx, c, j.src, j.im, j.g, j.target, work[i], opts)
	}
	later := func(i int) bool {
		n := jobs[i].g.Node(jobs[i].im.Desc.Digest)
		return n == nil || n.Subject() != nil || jobs[i].from != ""
	}
	limit := opts.Concurrency
	if limit <= 0 {
		limit = DefaultPushConcurrency
	}
	var wg gosync.WaitGroup
	slots := make(chan struct{}, limit)
	for i, j := range jobs {
		if j.err == nil && !later(i) {
			wg.Add(1)
			slots <- struct{}{}
			go func() { defer func() { <-slots; wg.Done() }(); one(i) }()
		}
	}
	wg.Wait()
	for i, j := range jobs {
		if j.err == nil && later(i) {
			one(i)
		}
	}
	var out []Pushed
	pushed := 0
	for i, j := range jobs {
		if j.err != nil { // unnamed, and skipping those was asked for
			out = append(out, Pushed{Source: j.im.Name(), Digest: j.im.Desc.Digest,
				NotPushed: fmt.Sprintf("no repository name to push it under; name it with `ferry tag SRC %s NAME`", j.im.Name())})
			continue
		}
		pushed++
		p, err := done[i], errs[i]
		if err != nil {
			return out, err
		}
		p.SourceDigest, p.LeftOut = j.from, j.left
		out = append(out, p)
	}
	if pushed == 0 {
		return out, fmt.Errorf("nothing to push: no image has a repository name; name them with `ferry tag`")
	}
	return out, nil
}

// pushOne finishes one walked image whose blobs went (bp): what the
// registry lacks of its manifests, children first, then the tag. A dry
// run only asks what the registry has.
func pushOne(ctx context.Context, c *remote.Client, src layout.ReadOnly, im layout.Image, g *layout.Graph, target layout.Ref, bp *blobPush, opts PushOptions) (Pushed, error) {
	repo := c.Repository(target, true)
	p := Pushed{Source: im.Name(), Target: layout.Ref{Repo: target.Repo, Tag: target.Tag, Digest: im.Desc.Digest}.String(), Digest: im.Desc.Digest}
	total := len(g.Blobs) + len(g.Nodes)
	if opts.DryRun {
		all := append([]ocispec.Descriptor(nil), g.Blobs...)
		for _, n := range g.Nodes {
			all = append(all, n.Desc)
		}
		for _, d := range all {
			if ok, err := repo.Exists(ctx, d); err != nil {
				return p, fmt.Errorf("push %s: %w", im.Name(), err)
			} else if !ok {
				p.Blobs++
			}
		}
		p.Skipped = total - p.Blobs
		return p, nil
	}
	if bp.err != nil {
		return p, fmt.Errorf("push %s to %s: %w", im.Name(), target.Repo, bp.err)
	}
	counting := bp.dst
	root := g.Node(im.Desc.Digest)
	nodes := g.Nodes
	// A tagged root with nothing after it goes once, by its tag: a PUT
	// by tag stores the manifest under its digest too, so the HEAD and
	// PUT by digest before it were two requests (two round trips on a
	// long link) for nothing. One with a subject still goes by digest,
	// where the referrers fallback is kept.
	byTag := target.Tag != "" && root != nil && root.Subject() == nil && len(nodes) > 0 && nodes[len(nodes)-1] == root
	if byTag {
		nodes = nodes[:len(nodes)-1]
	}
	if err := layout.Copy(ctx, src, counting, &layout.Graph{Nodes: nodes}, layout.CopyOptions{SkipExisting: true, Progress: opts.Progress, Retry: remote.Retryable}); err != nil {
		return p, fmt.Errorf("push %s to %s: %w", im.Name(), target.Repo, err)
	}
	if target.Tag != "" {
		if root == nil {
			return p, fmt.Errorf("push %s: %s is not a manifest or index", im.Name(), im.Desc.Digest)
		}
		// A repository that lacked any part of the image cannot hold its
		// manifest (a registry keeps what a manifest references), so the
		// tag cannot already name it: the HEAD that spares a re-run's PUT
		// is only worth its round trip when nothing had to go.
		if counting.pushed.Load() > 0 || !repo.Tagged(ctx, target.Tag, im.Desc.Digest) {
			if err := repo.TagManifest(ctx, im.Desc, root.Raw, target.Tag); err != nil {
				return p, err
			}
			if byTag {
				counting.pushed.Add(1)
			}
		}
		if byTag && opts.Progress != nil {
			opts.Progress(root.Desc.Size)
		}
	}
	p.Blobs = int(counting.pushed.Load())
	p.Skipped = total - p.Blobs
	return p, nil
}
