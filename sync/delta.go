package sync

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// deltaOf is the delta record of a source that is a delta archive, nil
// for any other source.
func deltaOf(ctx context.Context, src layout.ReadOnly) (*archive.Delta, error) {
	if s, ok := src.(*archive.Source); ok {
		return s.Delta(ctx)
	}
	return nil, nil
}

// deltaViews, for a push of a delta archive, gives each image the source
// it is pushed from: the archive, with what it left out read from the
// repository it goes to. Before anything is sent it asks each repository
// (HEAD) for every left-out blob its images need; one it lacks is looked
// for (HEAD) in the other repositories of the same registry (mountFrom).
// If a blob is in none, the push is refused, naming each blob and the
// images that need it, and nothing is written, not even a mount. Else the
// blobs found elsewhere are mounted into the target repository before the
// push starts, and a left-out manifest (which no registry mounts) is read
// from where it was found when the push sends it.
func deltaViews(ctx context.Context, c *remote.Client, src layout.ReadOnly, images []layout.Image, opts PushOptions) (map[int]layout.ReadOnly, error) {
	d, err := deltaOf(ctx, src)
	if err != nil || d == nil {
		return nil, err
	}
	if opts.Have != nil && opts.Have.Digest != d.Base.HaveList {
		return nil, fmt.Errorf("push: the have-list given (%s) is not the one this delta was cut against (%s): give that one, or none", opts.Have.Digest, d.Base.HaveList)
	}
	views := map[int]layout.ReadOnly{}
	var absent []archive.AbsentBlob
	var targets []string
	var mounts []mount
	for i, im := range images {
		target, err := Target(im, opts.To)
		if opts.As != nil {
			target, err = *opts.As, nil
		}
		if err != nil {
			continue // unnamed: Push decides whether that is an error
		}
		repo := c.Repository(target, true)
		base := &siblings{target: repo.ReadOnly(), at: map[digest.Digest]layout.ReadOnly{}}
		view := &archive.DeltaView{Archive: src, Delta: d, Base: base}
		views[i] = view
		from := mountFrom(target, images, opts)
		var miss []archive.AbsentBlob
		// A left-out manifest found elsewhere shows what is under it, which
		// is asked for next: as many rounds as the graph is deep.
		for {
			if miss, err = archive.Absent(ctx, view, []layout.Image{im}, opts.Platforms); err != nil {
				return nil, fmt.Errorf("push %s: %w", im.Name(), err)
			}
			if len(miss) == 0 || len(from) == 0 {
				break
			}
			var found []mount
			if miss, found, err = inSiblings(ctx, c, repo, target, miss, from); err != nil {
				return nil, fmt.Errorf("push %s: %w", im.Name(), err)
			}
			docs := false
			for _, m := range found {
				base.at[m.desc.Digest] = m.from.ReadOnly()
				if layout.IsIndex(m.desc.MediaType) || layout.IsManifest(m.desc.MediaType) {
					docs = true
				} else {
					mounts = append(mounts, m)
				}
			}
			if !docs {
				break
			}
		}
		if len(miss) > 0 && !slices.Contains(targets, target.Repo) {
			targets = append(targets, target.Repo)
		}
		absent = mergeAbsent(absent, miss)
	}
	if len(absent) > 0 {
		label := "the source"
		if s, ok := src.(*archive.Source); ok {
			label = s.Label()
		}
		return nil, &archive.AbsentError{Archive: label, Target: strings.Join(targets, ", "), HaveList: d.Base.HaveList, Blobs: absent}
	}
	if opts.DryRun {
		return views, nil
	}
	for _, m := range mounts {
		// A registry that will not mount (202) leaves the blob to the
		// push, which reads it from the repository it was found in
		// (the view's base) and sends it: slower, still complete.
		if _, err := m.to.Mount(ctx, m.desc, m.from.Name); err != nil {
			return nil, err
		}
	}
	return views, nil
}

// mount is a left-out descriptor the target repository lacks and the
// repository from, on the same registry, holds.
type mount struct {
	desc     ocispec.Descriptor
	to, from *remote.Repository
}

// mountFrom lists the repositories on target's registry, other than
// target's own, that may hold what a delta left out: those the have-list
// names (when it was made of that registry, its names are that
// registry's), then those this push sends other images to. A have-list
// records which blobs the far side holds but not in which repository, so
// every one is a candidate: asking one that lacks the blob costs a HEAD,
// against a blob that would otherwise have to be carried across again.
func mountFrom(target layout.Ref, images []layout.Image, opts PushOptions) []string {
	host, _, _ := strings.Cut(target.Repo, "/")
	var out []string
	add := func(repo string) {
		h, path, ok := strings.Cut(repo, "/")
		if ok && h == host && repo != target.Repo && !slices.Contains(out, path) {
			out = append(out, path)
		}
	}
	if opts.Have != nil {
		for _, im := range opts.Have.Images {
			if r, err := layout.ParseRef(im.Name); err == nil {
				add(r.Repo)
			}
		}
	}
	for _, im := range images {
		if t, err := Target(im, opts.To); err == nil {
			add(t.Repo)
		}
	}
	return out
}

// inSiblings asks the repositories from, in order, for each left-out
// descriptor the target repository lacks (HEAD: nothing is written yet).
// It returns what none of them holds, and where the rest were found.
func inSiblings(ctx context.Context, c *remote.Client, repo *remote.Repository, target layout.Ref, miss []archive.AbsentBlob, from []string) ([]archive.AbsentBlob, []mount, error) {
	host, _, _ := strings.Cut(target.Repo, "/")
	var still []archive.AbsentBlob
	var found []mount
	for _, a := range miss {
		ok := false
		for _, path := range from {
			sib := c.Repository(layout.Ref{Repo: host + "/" + path}, false)
			var err error
			if ok, err = sib.Exists(ctx, a.Desc); err != nil {
				return nil, nil, err
			}
			if ok {
				found = append(found, mount{desc: a.Desc, to: repo, from: sib})
				break
			}
		}
		if !ok {
			still = append(still, a)
		}
	}
	return still, found, nil
}

// siblings is the target repository of a delta's push, completed by
// what was found in the registry's other repositories (at): a blob found
// there counts as present (it is mounted before the push starts), and a
// manifest found there is read from there.
type siblings struct {
	target layout.ReadOnly
	at     map[digest.Digest]layout.ReadOnly
}

func (s *siblings) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if o, ok := s.at[d.Digest]; ok {
		if there, err := s.target.Exists(ctx, d); err != nil || !there {
			return o.Fetch(ctx, d)
		}
	}
	return s.target.Fetch(ctx, d)
}

func (s *siblings) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if _, ok := s.at[d.Digest]; ok {
		return true, nil // asked (HEAD) a moment ago
	}
	return s.target.Exists(ctx, d)
}

func (s *siblings) Info(ctx context.Context, dg digest.Digest) (layout.BlobInfo, error) {
	bi, err := s.target.Info(ctx, dg)
	if o, ok := s.at[dg]; ok && err != nil {
		return o.Info(ctx, dg)
	}
	return bi, err
}

func mergeAbsent(all, more []archive.AbsentBlob) []archive.AbsentBlob {
	for _, m := range more {
		i := slices.IndexFunc(all, func(a archive.AbsentBlob) bool { return a.Desc.Digest == m.Desc.Digest })
		if i < 0 {
			all = append(all, m)
			continue
		}
		for _, n := range m.Images {
			if !slices.Contains(all[i].Images, n) {
				all[i].Images = append(all[i].Images, n)
			}
		}
	}
	slices.SortFunc(all, func(a, b archive.AbsentBlob) int {
		return strings.Compare(string(a.Desc.Digest), string(b.Desc.Digest))
	})
	return all
}
