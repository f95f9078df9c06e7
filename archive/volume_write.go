package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/oci-ferry/ferry/layout"
)

// volItem is one file of the archive as a single tar would hold it.
type volItem struct {
	name string
	size int64
	data []byte             // a document (head file), else nil
	desc ocispec.Descriptor // a blob
	cuts []int64            // a split blob's chunk ends, in order (fillVolumes)
}

// volPart is an item, or the chunk of it, that one volume carries.
type volPart struct {
	item   *volItem
	off    int64
	size   int64
	part   int // 0: the whole item
	digest digest.Digest
}

// tarCost is the bytes one regular entry takes in a tar archive/tar
// writes: a 512-byte header (names stay under 100 bytes) and the data
// padded to 512. A size past ustar's 8 GiB − 1 (a 25 GB disc holds such
// blobs whole) or a name past its 100 bytes (a sha512 blob) takes a PAX
// record: one header and one block more.
func tarCost(name string, size int64) int64 {
	c := 512 + (size+511)&^511
	if size > maxUstarSize || len(name) > 100 {
		c += 1024
	}
	return c
}

const maxUstarSize = 1<<33 - 1

// chunkOr is the name an item's remaining rest bytes go under: the item's
// own if it was never cut, else its next chunk's.
func chunkOr(it *volItem, part int, rest int64) string {
	if part == 0 {
		return it.name
	}
	return chunkName(it.desc.Digest, part+1)
}

// name is the tar entry a part is written as.
func (p volPart) name() string {
	if p.part == 0 {
		return p.item.name
	}
	return chunkName(p.item.desc.Digest, p.part)
}

// tarEnd is the two zero blocks that close a tar.
const tarEnd = 1024

// usableVolume is the tar bytes a volume of limit bytes can hold. A
// compressed volume is planned as if nothing compressed: zstd and deflate
// fall back to stored blocks, which add a few bytes per block, so a bound
// of 1/128 plus 4 KiB for frame headers and trailers always holds. Layers
// are compressed already, so little is lost; what compresses only makes
// the files smaller, never more numerous, and the count is known before
// the first byte is written (each volume's index says "n of m").
func usableVolume(limit int64, comp Compression) int64 {
	if comp == None {
		return limit
	}
	return (limit - 4096) / 129 * 128
}

// volumeNames splits dest into the stem and suffix volume names are made
// of: out.tar.zst gives out and .tar.zst, and volume 2 is out.002.tar.zst.
func volumeNames(dest string) (stem, suffix string) {
	for _, s := range []string{".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.zstd", ".tar"} {
		if strings.HasSuffix(dest, s) && len(dest) > len(s) {
			return strings.TrimSuffix(dest, s), s
		}
	}
	return dest, ".tar"
}

// volumePath names volume n of a set of m: at least three digits, all
// volumes of a set alike, so they sort in order in every file manager.
func volumePath(dest string, n, m int) string {
	stem, suffix := volumeNames(dest)
	w := max(3, len(fmt.Sprint(m)))
	return fmt.Sprintf("%s.%0*d%s", stem, w, n, suffix)
}

// planVolumes cuts the items into volumes of usable tar bytes. Documents
// go whole into volume 1; blobs fill each volume to the brim and are cut
// where it ends, so a set takes the fewest media. The room each volume
// keeps for its own index grows until every index fits in it.
func planVolumes(items []*volItem, usable int64) ([][]volPart, []*volumeIndex, error) {
	reserve := int64(4096)
	for range 32 {
		vols, err := fillVolumes(items, usable, reserve)
		if err != nil {
			return nil, nil, err
		}
		idx := volumeIndexes(vols, strings.Repeat("0", setIDLen))
		need := int64(0)
		for _, v := range idx {
			need = max(need, tarCost(volumeIndexName, int64(len(v.encode()))))
		}
		if need <= reserve {
			return vols, idx, nil
		}
		reserve = need + 4096
	}
	return nil, nil, fmt.Errorf("volume size %d is too small for the index of what each volume holds", usable)
}

func fillVolumes(items []*volItem, usable, reserve int64) ([][]volPart, error) {
	room := usable - tarEnd - reserve
	if room < 2*512 {
		return nil, fmt.Errorf("a volume of %d bytes has no room for content beside its index (%d bytes): choose a larger --volume-size", usable, reserve)
	}
	vols := [][]volPart{nil}
	avail := room
	for _, it := range items {
		var off int64
		part := 0
		it.cuts = nil
		for {
			rest := it.size - off
			if c := tarCost(chunkOr(it, part, rest), rest); c <= avail {
				p := volPart{item: it, off: off, size: rest}
				if part > 0 {
					part++
					p.part = part
					it.cuts = append(it.cuts, it.size)
				}
				vols[len(vols)-1] = append(vols[len(vols)-1], p)
				avail -= c
				break
			}
			if it.data != nil {
				return nil, fmt.Errorf("%s (%d bytes) does not fit in the first volume: choose a larger --volume-size", it.name, it.size)
			}
			k := (avail - 512) &^ 511
			for k >= 512 && tarCost(chunkName(it.desc.Digest, part+1), k) > avail {
				k -= 512 // a chunk past 8 GiB needs a PAX header too
			}
			if k >= 512 && rest > 0 {
				part++
				vols[len(vols)-1] = append(vols[len(vols)-1], volPart{item: it, off: off, size: k, part: part})
				off += k
				it.cuts = append(it.cuts, off)
			}
			if len(vols) == maxVolumes {
				return nil, fmt.Errorf("the images need more than %d volumes of this size: choose a larger --volume-size", maxVolumes)
			}
			vols = append(vols, nil)
			avail = room
		}
	}
	return vols, nil
}

// volumeIndexes describes each planned volume. Chunks whose digests are
// not known yet carry a placeholder of the same length.
func volumeIndexes(vols [][]volPart, set string) []*volumeIndex {
	out := make([]*volumeIndex, len(vols))
	for i, v := range vols {
		idx := &volumeIndex{Version: volumeVersion, Set: set, Volume: i + 1, Volumes: len(vols), Entries: []volumeEntry{}}
		for _, p := range v {
			if p.part == 0 {
				idx.Entries = append(idx.Entries, volumeEntry{Name: p.item.name, Size: p.size})
				continue
			}
			d := p.digest
			if d == "" {
				d = digest.NewDigestFromEncoded(digest.SHA256, strings.Repeat("0", 64))
			}
			idx.Entries = append(idx.Entries, volumeEntry{Name: chunkName(p.item.desc.Digest, p.part), Size: p.size,
				Blob: p.item.desc.Digest, BlobSize: p.item.desc.Size, Offset: p.off, Digest: d})
		}
		out[i] = idx
	}
	return out
}

// setID names a set by what it holds and how it is cut: the same images
// written to the same volume size give the same id, so their volumes are
// interchangeable (they are byte for byte the same), and any other set
// gets another id.
func setID(idx []*volumeIndex) string {
	h := sha256.New()
	for _, v := range idx {
		h.Write(v.encode())
	}
	return hex.EncodeToString(h.Sum(nil))[:setIDLen]
}

// writeVolumes writes the archive as a set of volumes beside dest, each
// no larger than limit. A set that fits in one volume is today's archive
// byte for byte, under the first volume's name. Every volume is staged
// and only renamed into place when all are written: a failure leaves no
// part of a set.
func writeVolumes(ctx context.Context, root *os.Root, dest string, limit int64, comp Compression, format Format, src layout.ReadOnly, p *plan, res *Result, progress func(int64), med *medium) error {
	head, err := headFiles(format, p, res)
	if err != nil {
		return err
	}
	items, single := volumeItems(head, p)
	usable := usableVolume(limit, comp)
	if single <= usable {
		if err := med.checkSet(dest, []int64{single}, comp, p); err != nil {
			return err
		}
		segs, err := archiveSegs(format, p, res)
		if err != nil {
			return err
		}
		return writeVolume(ctx, root, dest, limit, comp, segs, src, res, progress, med)
	}
	vols, planned, err := planVolumes(items, usable)
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	if err := med.checkSet(dest, volumeSizes(vols, planned), comp, p); err != nil {
		return err
	}
	return writeVolumeSet(ctx, root, dest, limit, comp, src, vols, res, progress, med)
}

// volumeItems lists what an archive holds as the files of one tar, and
// that tar's exact size: the single archive and the volume planner plan
// from the same list, so both know their size before the first byte.
func volumeItems(head []headFile, p *plan) ([]*volItem, int64) {
	var items []*volItem
	single := int64(tarEnd + 512) // blobs/
	algs := map[string]bool{}
	for _, f := range head {
		items = append(items, &volItem{name: f.name, size: int64(len(f.data)), data: f.data})
		single += tarCost(f.name, int64(len(f.data)))
	}
	if p.delta != nil {
		// A delta's record of what it left out goes first among the
		// blobs, as in a single archive (writeTar): a set must carry it
		// too, or the far side could not tell left out from lost.
		name := blobName(p.deltaBase.Record)
		items = append(items, &volItem{name: name, size: int64(len(p.delta)), data: p.delta})
		single += tarCost(name, int64(len(p.delta)))
		if a := p.deltaBase.Record.Algorithm().String(); !algs[a] {
			algs[a] = true
			single += 512
		}
	}
	for _, d := range append(append([]ocispec.Descriptor(nil), p.meta...), p.layers...) {
		items = append(items, &volItem{name: blobName(d.Digest), size: d.Size, desc: d})
		single += tarCost(blobName(d.Digest), d.Size)
		if a := d.Digest.Algorithm().String(); !algs[a] {
			algs[a] = true
			single += 512
		}
	}
	return items, single
}

// volumeSizes are the exact sizes of planned plain volumes: each one's
// index, its parts and the tar's end.
func volumeSizes(vols [][]volPart, idx []*volumeIndex) []int64 {
	out := make([]int64, len(vols))
	for i, v := range vols {
		n := tarCost(volumeIndexName, int64(len(idx[i].encode()))) + tarEnd
		for _, p := range v {
			n += tarCost(p.name(), p.size)
		}
		out[i] = n
	}
	return out
}

// writeVolumeSet writes planned volumes, staged, and names them all once
// every one is complete. What a killed write of the same set left is
// taken over: volumes it finished and the segments of the one it was
// writing are kept if they check out (resume_set.go).
func writeVolumeSet(ctx context.Context, root *os.Root, dest string, limit int64, comp Compression, src layout.ReadOnly, vols [][]volPart, res *Result, progress func(int64), med *medium) error {
	// A plain volume's index is completed in place once the volume is
	// written; a compressed one cannot be, so its chunks are hashed first.
	patch := comp == None
	placeholder := volumeIndexes(vols, strings.Repeat("0", setIDLen))
	r := resumeSet(ctx, root, dest, comp, volumeSegs(placeholder, vols), res)
	staged := r.staged
	defer func() {
		for _, s := range staged {
			s.Abort()
		}
	}()
	idx := placeholder
	if !patch {
		if err := hashChunks(ctx, src, vols); err != nil {
			return err
		}
		idx = volumeIndexes(vols, strings.Repeat("0", setIDLen))
		set := setID(idx)
		for _, v := range idx {
			v.Set = set
		}
		r.checkIndexes(idx)
		staged = r.staged
	}
	segs := volumeSegs(idx, vols)
	if kept := r.keptSegs(segs); len(kept) > 0 {
		res.keep(dest, "its volumes' temp files", kept, progress)
	}
	// A split blob is read once while its chunks are written, across
	// as many volumes as it spans.
	var open *chunkSource
	defer func() { open.close() }()
	var synced errgroup.Group
	defer synced.Wait()
	for i := r.v; i < len(vols); i++ {
		name := volumePath(dest, i+1, len(vols))
		var tmp *layout.Staged
		start := 0
		if i == r.v && i < len(staged) {
			tmp, start = staged[i], r.s
		} else {
			if stale := layout.StaleTemps(root, ".", tempPrefix(name), true); len(stale) > 0 {
				res.Notes = append(res.Notes, LeftoverNote(stale, "beside "+name, "removed"))
			}
			var err error
			if tmp, err = layout.Stage(root, ".", tempPrefix(name)); err != nil {
				return err
			}
			staged = append(staged, tmp)
		}
		whole := tmp.Size()
		if err := writeSegs(ctx, med.capped(tmp, name, tmp.Size()), comp, segs[i][start:], src, &open, progress, func() { whole = tmp.Size() }); err != nil {
			return fmt.Errorf("%s: %w", name, keepSet(staged, whole, err))
		}
		if tmp.Size() > limit {
			return fmt.Errorf("%s: %d bytes, over the volume size of %d: %w", name, tmp.Size(), limit, layout.ErrTooLarge)
		}
		// The volume's bytes reach the disk while the next is written;
		// the commit then waits for little (a plain volume's index page).
		synced.Go(func() error { return tmp.Sync() })
	}
	if err := synced.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return keepSet(staged, staged[len(staged)-1].Size(), err)
	}
	if patch {
		if err := patchIndexes(staged, vols, idx); err != nil {
			return err
		}
	}
	names := make([]string, len(staged))
	for i := range staged {
		names[i] = filepath.Base(volumePath(dest, i+1, len(vols)))
		res.Volumes = append(res.Volumes, volumePath(dest, i+1, len(vols)))
	}
	if err := layout.CommitAll(root, ".", staged, names); err != nil {
		res.Volumes = nil
		return err
	}
	res.Path = res.Volumes[0]
	staged = nil
	res.Notes = append(res.Notes, removeStaleVolumes(dest, len(vols))...)
	return nil
}

// keepSet leaves a failed set's temp files for the next run to resume
// (keepOrAbort decides for each; the last is cut after its last whole
// segment), and returns err.
func keepSet(staged []*layout.Staged, whole int64, err error) error {
	var kept int64
	for i, s := range staged {
		w := s.Size()
		if i == len(staged)-1 {
			w = whole
		}
		if keepOrAbort(s, w, err) {
			kept += w
		}
	}
	if kept > 0 {
		return resumable(err, kept)
	}
	return err
}

// volumeSegs lists each volume's segments: its index, its parts, its end.
func volumeSegs(idx []*volumeIndex, vols [][]volPart) [][]seg {
	out := make([][]seg, len(vols))
	for i, v := range vols {
		segs := []seg{{index: idx[i].encode()}}
		for j := range v {
			p := &v[j]
			switch {
			case p.item.data != nil:
				segs = append(segs, seg{entries: []member{{name: p.item.name, data: p.item.data}}})
			case p.part == 0:
				segs = append(segs, seg{blob: p.item.desc})
			default:
				segs = append(segs, seg{part: p})
			}
		}
		out[i] = append(segs, seg{trailer: true})
	}
	return out
}

// patchIndexes writes each volume's final index over the placeholder it
// began with: the same length (digests and the set id are fixed-length),
// right after the index entry's 512-byte header.
func patchIndexes(staged []*layout.Staged, vols [][]volPart, placeholder []*volumeIndex) error {
	final := volumeIndexes(vols, strings.Repeat("0", setIDLen))
	set := setID(final)
	for i, v := range final {
		v.Set = set
		b, was := v.encode(), placeholder[i].encode()
		if len(b) != len(was) {
			return fmt.Errorf("volume %d: its index changed length when completed (%d, was %d)", i+1, len(b), len(was))
		}
		if _, err := staged[i].WriteAt(b, 512); err != nil {
			return err
		}
	}
	return nil
}

// writeVolume writes a set of one volume, which is a single archive
// under the first volume's name, and checks it kept to the limit before
// it takes that name.
func writeVolume(ctx context.Context, root *os.Root, dest string, limit int64, comp Compression, segs []seg, src layout.ReadOnly, res *Result, progress func(int64), med *medium) error {
	name := volumePath(dest, 1, 1)
	tmp, err := writeArchiveFile(ctx, root, name, comp, segs, src, res, progress, med)
	if err != nil {
		return err
	}
	if tmp.Size() > limit {
		tmp.Abort()
		return fmt.Errorf("%s: %d bytes, over the volume size of %d: %w", name, tmp.Size(), limit, layout.ErrTooLarge)
	}
	if err := tmp.Commit(filepath.Base(name)); err != nil {
		return err
	}
	res.Volumes = append(res.Volumes, name)
	res.Path = name
	res.Notes = append(res.Notes, removeStaleVolumes(dest, 1)...)
	return nil
}

// removeStaleVolumes deletes the volumes past the m-th that an earlier,
// larger set of the same name left: read beside the new set they would be
// volumes of another set. Only files that read as volumes are touched.
func removeStaleVolumes(dest string, m int) []string {
	stem, suffix := volumeNames(filepath.Base(dest))
	des, err := os.ReadDir(filepath.Dir(dest))
	if err != nil {
		return nil
	}
	var notes []string
	for _, de := range des {
		name := de.Name()
		num, ok := strings.CutPrefix(name, stem+".")
		if num, ok = strings.CutSuffix(num, suffix); !ok || len(num) < 3 || strings.Trim(num, "0123456789") != "" {
			continue
		}
		if n, _ := strconv.Atoi(num); n >= 1 && n <= m && name == filepath.Base(volumePath(dest, n, m)) {
			continue // a volume of the set just written
		}
		p := filepath.Join(filepath.Dir(dest), name)
		if _, _, err := probeVolume(p); err == nil && os.Remove(p) == nil {
			notes = append(notes, fmt.Sprintf("removed %s, a volume of an earlier set of this name", p))
		}
	}
	return notes
}

// hashChunks reads each blob that is cut into chunks once ahead of the
// write, to record every chunk's digest in the index at the head of its
// volume. The blob is verified as a whole on the way; the write checks
// each chunk again, so a source that changes in between is refused.
func hashChunks(ctx context.Context, src layout.ReadOnly, vols [][]volPart) error {
	var cur *chunkSource
	defer func() { cur.close() }()
	for _, v := range vols {
		for i := range v {
			p := &v[i]
			if p.part == 0 || p.digest != "" {
				continue // whole, or kept from a killed run and checked then
			}
			if p.part == 1 {
				cur.close()
				var err error
				if cur, err = openChunkSource(ctx, src, p.item.desc, p.item.cuts); err != nil {
					return err
				}
			}
			if cur == nil || cur.desc.Digest != p.item.desc.Digest || cur.tap == nil {
				return fmt.Errorf("%s %s: chunk %d hashed out of order", p.item.desc.MediaType, p.item.desc.Digest, p.part)
			}
			// The chunk is hashed as it is read ahead, the blob here.
			if _, err := layout.CopyBuffer(io.Discard, io.LimitReader(cur.r, p.size)); err != nil {
				return fmt.Errorf("%s %s: %w", p.item.desc.MediaType, p.item.desc.Digest, err)
			}
			d, ok := cur.chunkSum(p.part, p.off+p.size)
			if !ok {
				return fmt.Errorf("%s %s: chunk %d: its bytes were read but not hashed", p.item.desc.MediaType, p.item.desc.Digest, p.part)
			}
			p.digest = d
			if p.off+p.size == p.item.size {
				if err := cur.finish(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// chunkSource is a blob being read through its verifier, chunk by chunk.
type chunkSource struct {
	desc ocispec.Descriptor
	ra   *layout.ReadAhead
	r    *layout.VerifyReader
	tap  *chunkTap // nil: the chunks are hashed by whoever reads r
}

// openChunkSource opens d to be read chunk by chunk. With cuts (each
// chunk's end), every chunk after the first is hashed by the read-ahead
// goroutine as it reads it (chunkTap); the first is the blob's own hash
// at its end, so a blob cut in two is hashed once and a half, not twice.
func openChunkSource(ctx context.Context, src layout.ReadOnly, d ocispec.Descriptor, cuts []int64) (*chunkSource, error) {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	var tap *chunkTap
	if len(cuts) > 1 {
		from, ends := int64(0), cuts // the blob's own hash is not a chunk's
		if d.Digest.Algorithm() == chunkAlg {
			from, ends = cuts[0], cuts[1:]
		}
		tap = newChunkTap(rc, from, ends)
		rc = tap
	}
	ra := layout.NewReadAhead(rc, pipelineDepth)
	vr, err := layout.NewVerifyReader(ra, d)
	if err != nil {
		ra.Close()
		return nil, err
	}
	return &chunkSource{desc: d, ra: ra, r: vr, tap: tap}, nil
}

// chunkSum is the digest of chunk part (1-based) once its last byte has
// been read through r: the first from the blob's own running hash, which
// has then read exactly that chunk, the others from the tap; all from
// the tap when the blob's digest is not of chunkAlg (a sha512 blob's
// chunks are still sha256, docs/FORMAT.md).
func (c *chunkSource) chunkSum(part int, end int64) (digest.Digest, bool) {
	if c.tap.from == 0 { // the tap has every chunk
		return c.tap.sum(part - 1)
	}
	if part == 1 {
		d, n := c.r.SoFar()
		return d, n == end
	}
	return c.tap.sum(part - 2)
}

// finish checks the whole blob once its last chunk is out.
func (c *chunkSource) finish() error {
	if err := c.r.Drain(); err != nil {
		return fmt.Errorf("%s %s: %w", c.desc.MediaType, c.desc.Digest, err)
	}
	return nil
}

func (c *chunkSource) close() {
	if c != nil {
		c.ra.Close()
	}
}

// chunkContent streams one chunk of a split blob, checked against the
// digest the index already promises, or, in a plain volume, recorded for
// the index to be completed with. The blob is read once across its
// chunks, from the first, through one verifier.
func chunkContent(src layout.ReadOnly, p *volPart, open **chunkSource, progress func(int64)) content {
	return func(ctx context.Context, w io.Writer) error {
		d := p.item.desc
		if p.part == 1 {
			(*open).close()
			var err error
			if *open, err = openChunkSource(ctx, src, d, p.item.cuts); err != nil {
				return err
			}
		}
		if *open == nil || (*open).desc.Digest != d.Digest || (*open).tap == nil {
			return fmt.Errorf("%s %s: chunk %d written out of order", d.MediaType, d.Digest, p.part)
		}
		if progress != nil {
			w = progressWriter{w, progress}
		}
		// The chunk is hashed as it is read ahead, the blob here, and
		// the write runs behind: three goroutines on the two cores a
		// whole blob's copy keeps busy. With the chunk's hash beside the
		// write, the writer was the bottleneck, a tenth slower on a set
		// of small volumes.
		if _, err := layout.CopyBehind(w, io.LimitReader(ctxReader{ctx, (*open).r}, p.size), pipelineDepth); err != nil {
			return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
		}
		got, ok := (*open).chunkSum(p.part, p.off+p.size)
		if !ok {
			return fmt.Errorf("%s %s: chunk %d: its bytes were read but not hashed (bytes %d to %d)", d.MediaType, d.Digest, p.part, p.off, p.off+p.size)
		}
		if p.digest == "" {
			p.digest = got // the index is completed once the volume is out
		} else if got != p.digest {
			return fmt.Errorf("%s %s: chunk %d changed in the source since it was hashed: %w", d.MediaType, d.Digest, p.part, &layout.MismatchError{Want: p.digest, Got: got})
		}
		if p.off+p.size == d.Size {
			return (*open).finish()
		}
		return nil
	}
}

func regHeader(name string, size int64, t time.Time) *tar.Header {
	return &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: t, Typeflag: tar.TypeReg}
}
