package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
// (HEAD) for every left-out blob its images need; if one lacks any, the
// push is refused, naming each blob and the images that need it, and
// nothing is written.
func deltaViews(ctx context.Context, c *remote.Client, src layout.ReadOnly, images []layout.Image, opts PushOptions) (map[int]layout.ReadOnly, error) {
	d, err := deltaOf(ctx, src)
	if err != nil || d == nil {
		return nil, err
	}
	views := map[int]layout.ReadOnly{}
	var absent []archive.AbsentBlob
	var targets []string
	for i, im := range images {
		target, err := Target(im, opts.To)
		if opts.As != nil {
			target, err = *opts.As, nil
		}
		if err != nil {
			continue // unnamed: Push decides whether that is an error
		}
		view := &archive.DeltaView{Archive: src, Delta: d, Base: c.Repository(target, true).ReadOnly()}
		views[i] = view
		miss, err := archive.Absent(ctx, view, []layout.Image{im}, opts.Platforms)
		if err != nil {
			return nil, fmt.Errorf("push %s: %w", im.Name(), err)
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
	return views, nil
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
