package layout

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GCResult says what gc removed.
type GCResult struct {
	Removed []BlobInfo `json:"removed"` // unreferenced blobs deleted
	Freed   int64      `json:"freed"`   // their bytes
	Stale   int        `json:"stale"`   // abandoned staging areas and temp files deleted
	// StaleBytes are the bytes those held.
	StaleBytes int64 `json:"staleBytes"`
}

// GC deletes blobs no index.json entry reaches and staging left by crashed
// processes. It holds the layout lock, so a concurrent import either
// commits before gc looks or after it is done, and it keeps what live
// sessions pinned: a pull commits manifests before it names them, and an
// import relies on blobs it found present. Missing children are tolerated:
// a sparse layout keeps what it has.
func (d *Dir) GC(ctx context.Context, dryRun bool) (*GCResult, error) {
	l, err := lockFile(ctx, d.root, lockName, true, true)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	ims, err := d.Images()
	if err != nil {
		return nil, err
	}
	roots := make([]ocispec.Descriptor, 0, len(ims))
	for _, im := range ims {
		roots = append(roots, im.Desc)
	}
	g, err := Walk(ctx, d.FS, roots, WalkOptions{AllowMissing: true})
	if err != nil {
		return nil, err
	}
	live := map[digest.Digest]bool{}
	for _, b := range g.Blobs {
		live[b.Digest] = true
	}
	for _, n := range g.Nodes {
		live[n.Desc.Digest] = true
	}
	// Live sessions' pins are roots too: content a pull or import has
	// written or counted on but not yet named in index.json.
	for _, s := range d.sessions() {
		if !s.alive {
			continue
		}
		if err := d.pinned(s.dir, live); err != nil {
			return nil, fmt.Errorf("%s: read what a running ferry relies on (%s): %w", d.path, s.dir, err)
		}
	}
	blobs, err := d.Blobs(ctx)
	if err != nil {
		return nil, err
	}
	res := &GCResult{}
	for _, b := range blobs {
		if b.Err != nil || live[b.Digest] {
			continue
		}
		res.Removed = append(res.Removed, b)
		res.Freed += b.Size
		if !dryRun {
			if err := d.root.Remove(b.Path); err != nil {
				return res, err
			}
		}
	}
	for _, lo := range d.removeStale(dryRun) {
		res.Stale++
		res.StaleBytes += lo.Size
	}
	return res, nil
}

// removeStale deletes, or with dryRun only lists, staging areas whose
// owner is gone (its lock file can be locked exclusively, or is missing),
// the partial blobs failed pulls kept, and temp files of interrupted
// index writes. The caller holds the layout lock.
func (d *Dir) removeStale(dryRun bool) []Leftover {
	var out []Leftover
	for _, s := range d.sessions() {
		if s.alive {
			continue
		}
		lo := Leftover{Path: s.dir, Size: treeSize(d.root, s.dir)}
		if !dryRun {
			// Hold the lock while removing, so that nothing could come to
			// life under our feet.
			l, gone, err := probe(d.root, s.dir+".lock")
			if err != nil {
				continue
			}
			d.root.RemoveAll(s.dir)
			if !gone {
				d.root.Remove(s.dir + ".lock")
				l.unlock()
			}
		}
		out = append(out, lo)
	}
	out = append(out, partialLeftovers(d, !dryRun)...)
	return append(out, StaleTemps(d.root, stagePath, "f-", !dryRun)...)
}
