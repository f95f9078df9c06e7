package archive

import (
	"context"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// setResume is what a volume set's write takes over from a killed one:
// the temp files of the volumes before v, whole and checked, and of
// volume v the first s segments.
type setResume struct {
	staged []*layout.Staged // adopted temps of volumes 0..v
	kept   [][]keptSeg      // what each holds, as scanned
	v, s   int
	segs   [][]seg
	first  map[digest.Digest]segPos // each split blob's first chunk
}

type segPos struct{ v, s int }

func (a segPos) before(b segPos) bool { return a.v < b.v || a.v == b.v && a.s < b.s }

// resumeSet scans the temps a killed write of this set left, volume by
// volume in order, and finds where writing must go on. A split blob's
// chunks are kept only together, once the whole blob's digest checks
// out across them, and writing never starts inside a split blob: its
// source is read from the start (most sources cannot seek).
func resumeSet(ctx context.Context, root *os.Root, dest string, comp Compression, segs [][]seg, res *Result) *setResume {
	r := &setResume{segs: segs, first: map[digest.Digest]segPos{}}
	for i, v := range segs {
		for j := range v {
			if p := v[j].part; p != nil && p.part == 1 {
				r.first[p.item.desc.Digest] = segPos{i, j}
			}
		}
	}
	split := splitHash{}
	t := mtime()
	for i := range segs {
		tmp, notes := takeOver(root, volumePath(dest, i+1, len(segs)))
		res.Notes = append(res.Notes, notes...)
		if tmp == nil {
			break
		}
		k := scanKept(ctx, tmp, tmp.Size(), comp, segs[i], t, split)
		r.staged = append(r.staged, tmp)
		r.kept = append(r.kept, k)
		if len(k) < len(segs[i]) {
			break
		}
	}
	cut := segPos{len(segs), 0}
	if n := len(r.kept); n > 0 && len(r.kept[n-1]) < len(segs[n-1]) {
		cut = segPos{n - 1, len(r.kept[n-1])}
	} else if n < len(segs) {
		cut = segPos{n, 0}
	}
	// Split blobs: kept whole and right, or written again from the first
	// chunk on.
	whole := map[digest.Digest]bool{}
	for i, k := range r.kept {
		for j := range k {
			if p := segs[i][j].part; p != nil && p.off+p.size == p.item.size && split[p.item.desc.Digest] != nil && split[p.item.desc.Digest].Digest() == p.item.desc.Digest {
				whole[p.item.desc.Digest] = true
			}
		}
	}
	for d, at := range r.first {
		if !whole[d] && at.before(cut) {
			cut = at
		}
	}
	r.cutAt(cut)
	for i, k := range r.kept {
		for j := range k {
			if p := segs[i][j].part; p != nil {
				p.digest = k[j].chunk
			}
		}
	}
	return r
}

// cutAt keeps everything before at and nothing after: the temp of volume
// at.v is truncated after its first at.s segments, and later ones removed.
func (r *setResume) cutAt(at segPos) {
	at = r.outsideSplit(at)
	for i := len(r.staged) - 1; i > at.v; i-- {
		r.staged[i].Abort()
		r.staged, r.kept = r.staged[:i], r.kept[:i]
	}
	r.v, r.s = at.v, at.s
	if at.v < len(r.staged) {
		var end int64
		if at.s > 0 {
			end = r.kept[at.v][at.s-1].end
		}
		r.kept[at.v] = r.kept[at.v][:at.s]
		if r.staged[at.v].Truncate(end) != nil {
			r.staged[at.v].Abort()
			r.staged, r.kept = r.staged[:at.v], r.kept[:at.v]
			r.s = 0
		}
	}
}

// outsideSplit moves at back to the first chunk of a split blob it falls
// inside of (a volume that begins with a later chunk).
func (r *setResume) outsideSplit(at segPos) segPos {
	if at.v < len(r.segs) && at.s < len(r.segs[at.v]) {
		if p := r.segs[at.v][at.s].part; p != nil && p.part > 1 {
			return r.first[p.item.desc.Digest]
		}
	}
	return at
}

// checkIndexes compares each kept compressed volume's index with the one
// this write computed (a plain volume's is rewritten at the end anyway):
// a volume whose index differs is written again from its start.
func (r *setResume) checkIndexes(idx []*volumeIndex) {
	for i, k := range r.kept {
		if len(k) > 0 && k[0].index != digest.FromBytes(idx[i].encode()) {
			r.cutAt(segPos{i, 0})
			return
		}
	}
}

// keptSegs lists the segments kept, in order, for the result's count.
func (r *setResume) keptSegs(segs [][]seg) []seg {
	var out []seg
	for i, k := range r.kept {
		out = append(out, segs[i][:len(k)]...)
	}
	return out
}

func (r *setResume) String() string { return fmt.Sprintf("volume %d, segment %d", r.v+1, r.s) }
