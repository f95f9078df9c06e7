package layout

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GCResult says what gc removed.
type GCResult struct {
	Removed []BlobInfo `json:"removed"` // unreferenced blobs deleted
	Freed   int64      `json:"freed"`   // their bytes
	Stale   int        `json:"stale"`   // abandoned staging areas and temp files deleted
}

// GC deletes blobs no index.json entry reaches and staging left by crashed
// processes. It holds the layout lock, so a concurrent import either
// commits before gc looks or after it is done. Missing children are
// tolerated: a sparse layout keeps what it has.
func (d *Dir) GC(ctx context.Context, dryRun bool) (*GCResult, error) {
	l, err := lockFile(d.root, lockName, true, true)
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
	res.Stale = d.removeStale(dryRun)
	return res, nil
}

// removeStale deletes staging areas whose owner is gone (its lock file can
// be locked exclusively) and temp files of interrupted index writes. The
// caller holds the layout lock.
func (d *Dir) removeStale(dryRun bool) int {
	n := 0
	for _, s := range d.sessions() {
		if s.alive {
			continue
		}
		if !dryRun {
			// Take the lock again and hold it while removing, so a
			// session cannot come to life under our feet.
			l, gone, err := probe(d.root, s.dir+".lock")
			if gone || err != nil {
				continue
			}
			d.root.RemoveAll(s.dir)
			d.root.Remove(s.dir + ".lock")
			l.unlock()
		}
		n++
	}
	ents, err := fs.ReadDir(d.root.FS(), stagePath)
	if err != nil {
		return n
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "f-") {
			// Index writes happen under the lock gc holds: any such file
			// is left over from a crash.
			if !dryRun {
				d.root.Remove(path.Join(stagePath, e.Name()))
			}
			n++
		}
	}
	return n
}
