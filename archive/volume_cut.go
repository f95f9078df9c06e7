package archive

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// cutVolume is a volume that ends before the entries its index lists (a
// stick that filled up, a copy cut short): blob is the first blob it
// loses. The volume reader knows the file, the volume and the blob; the
// images that need the blob are known only from the set's documents, so
// the set's reader adds them (withImages) before the error is shown: a
// person re-burning one volume wants to know what it was for.
type cutVolume struct {
	err  error
	blob digest.Digest
}

func (e *cutVolume) Error() string { return e.err.Error() }
func (e *cutVolume) Unwrap() error { return e.err }

// lostAt wraps err, about volume entry ve, as a cut volume losing ve's
// blob. An entry that is no blob (index.json) names none.
func lostAt(ve volumeEntry, err error) error {
	if ve.chunk() {
		return &cutVolume{err: err, blob: ve.Blob}
	}
	if d, ok, derr := layout.DigestFromPath(ve.Name); ok && derr == nil {
		return &cutVolume{err: err, blob: d}
	}
	return err
}

// firstLost is the first entry of v's index that t, the volume's tar as
// far as it reads, does not hold whole.
func firstLost(v volumeFile, t *tarFS) (volumeEntry, bool) {
	for _, ve := range v.idx.Entries {
		if e := t.entry(ve.Name); e == nil || e.kind != kindFile || e.size != ve.Size {
			return ve, true
		}
	}
	return volumeEntry{}, false
}

// withImages names, in a cut volume's error, the images of fsys (what
// the set still holds) that need the lost blob. Documents come first in a
// set, so they are nearly always there to read; when they are not, the
// error stays as it was rather than guess.
func withImages(ctx context.Context, err error, fsys fs.FS, label string) error {
	cut, ok := err.(*cutVolume)
	if !ok || cut.blob == "" {
		return err
	}
	names := imagesNeeding(ctx, layout.NewFS(fsys, label), cut.blob)
	if len(names) == 0 {
		return err
	}
	what := "image"
	if len(names) > 1 {
		what = "images"
	}
	return &cutVolume{err: fmt.Errorf("%w; blob %s is needed by %s %s", cut.err, cut.blob, what, strings.Join(names, ", ")), blob: cut.blob}
}

// imagesNeeding names the images of l whose graphs reach blob, each walked
// on its own (an error path: the cost of a walk per image is nothing next
// to the volume that must be copied again).
func imagesNeeding(ctx context.Context, l *layout.FS, blob digest.Digest) []string {
	if !l.HasLayout() {
		return nil
	}
	ims, err := l.Images()
	if err != nil {
		return nil
	}
	is := func(d ocispec.Descriptor) bool { return d.Digest == blob }
	var out []string
	for _, im := range ims {
		g, err := layout.Walk(ctx, l, []ocispec.Descriptor{im.Desc}, layout.WalkOptions{AllowMissing: true})
		if err != nil && !is(im.Desc) {
			continue
		}
		if is(im.Desc) || g.Node(blob) != nil || slices.ContainsFunc(g.Blobs, is) || slices.ContainsFunc(g.Missing, is) {
			if n := im.Name(); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// intactEntries serves the whole entries that the volumes of a set still
// hold, as far as each one reads, so the documents of a set with a cut
// volume can be read to name the images it fails.
func intactEntries(ctx context.Context, vols []volumeFile, label string) (*setFS, []io.Closer) {
	s := &setFS{tree: newTree(label), whole: map[*entry]wholeLoc{}, chunks: map[*entry][]chunkLoc{}, where: map[string]string{}}
	var closers []io.Closer
	for _, v := range vols {
		f, err := os.Open(v.path)
		if err != nil {
			continue
		}
		closers = append(closers, f)
		fi, err := f.Stat()
		if err != nil {
			continue
		}
		t, _ := indexTar(ctx, f, fi.Size(), v.label())
		if t == nil {
			continue
		}
		for _, ve := range v.idx.Entries {
			e := t.entry(ve.Name)
			if ve.chunk() || e == nil || e.kind != kindFile || e.size != ve.Size || s.where[ve.Name] != "" {
				continue
			}
			ne := &entry{name: ve.Name, kind: kindFile, size: ve.Size}
			if s.add(ne, notSame) != nil {
				continue
			}
			s.whole[ne] = wholeLoc{r: f, off: e.off}
			s.where[ve.Name] = v.label()
		}
	}
	return s, closers
}
