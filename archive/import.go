package archive

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Names selects images (docker reference syntax); empty means all.
	Names []string
	// Platforms keeps only these platforms of multi-platform images.
	Platforms   []ocispec.Platform
	Concurrency int
	Progress    func(n int64)
	// Total, if set, learns the bytes to copy once the images are walked.
	Total func(n int64)
	// Prompt asks for the missing volumes of a set (OpenOptions.Prompt).
	Prompt VolumePrompt
	// watch is OpenOptions.watch, for the source.
	watch func(n int)
}

// ImportResult says what an import did.
type ImportResult struct {
	Format string          `json:"format"`
	Mode   string          `json:"mode"`
	Images []ImportedImage `json:"images"`
	Notes  []string        `json:"notes,omitempty"`
	Blobs  int             `json:"blobs"`
	Size   int64           `json:"size"`
	// Repaired are blobs the destination held in a corrupt copy of the
	// right size, replaced with the source's verified content.
	Repaired []digest.Digest `json:"repaired,omitempty"`
}

// ImportedImage is one image as it now stands in the destination.
type ImportedImage struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	Platforms []string      `json:"platforms,omitempty"`
	// Missing lists platforms whose content the source did not carry
	// (a sparse index, as docker and ctr export them).
	Missing []string `json:"missing,omitempty"`
}

// Import copies images from src (a layout directory, an archive file or
// "-") into the layout at dir, creating it if needed. Every blob is
// verified against its digest and size while it streams; content is staged
// and published together with the new index.json entries only when every
// image checked out, so a failed import leaves dir exactly as it was.
func Import(ctx context.Context, src, dir string, opts ImportOptions) (res *ImportResult, err error) {
	_, statErr := os.Stat(dir)
	dst, err := layout.CreateDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	txn := dst.Begin()
	defer func() {
		txn.Abort()
		if err != nil {
			dst.Undo()
		}
		dst.Close()
		if err != nil && statErr != nil {
			os.Remove(dir) // it did not exist before; only if now empty
		}
	}()
	s, err := Open(ctx, src, OpenOptions{Stage: txn, Prompt: opts.Prompt, watch: opts.watch})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	images, err := Select(s.Images, opts.Names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	// Keeping either image of a clashing name would be a guess, and
	// docker load's guess (the last) is not what another tool makes.
	if cl := layout.NameClashes(images); len(cl) > 0 {
		return nil, fmt.Errorf("%s: %w: %s; ferry will not pick one: import the one you mean by NAME@DIGEST", src, layout.ErrAmbiguous, cl[0])
	}
	rd, err := deltaSource(ctx, s, src, dst, dir, images, opts.Platforms)
	if err != nil {
		return nil, err
	}
	res = &ImportResult{Format: s.Format, Mode: s.Mode, Notes: s.Notes}
	res.Notes = append(res.Notes, deltaNote(rd, dir)...)
	if cl := dst.Cleaned(); len(cl) > 0 {
		res.Notes = append(res.Notes, LeftoverNote(cl, "in "+dir, "removed"))
	}
	roots := make([]ocispec.Descriptor, 0, len(images))
	for _, im := range images {
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, rd, roots, layout.WalkOptions{Platforms: opts.Platforms, AllowMissing: true, CheckBlobs: true})
	if err != nil {
		var we *layout.WalkError
		if errors.As(err, &we) {
			return nil, fmt.Errorf("%s: image %s: %w", src, imageName(images, we.Root.Digest), err)
		}
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	for _, im := range images {
		missing, err := completeness(g, im)
		if err != nil {
			return nil, fmt.Errorf("%s: image %s: %w", src, im.Name(), err)
		}
		res.Images = append(res.Images, ImportedImage{Name: im.Name(), Digest: im.Desc.Digest, Platforms: layout.RootPlatforms(ctx, rd, g, im.Desc), Missing: missing})
	}
	notes, bad, err := layout.CheckConfigs(ctx, rd, g)
	if err != nil {
		return nil, fmt.Errorf("%s: image %s: manifest %s: %w", src, imageName(images, g.Owner(bad)), bad, err)
	}
	res.Notes = append(res.Notes, notes...)
	if opts.Total != nil {
		opts.Total(g.Size())
	}
	// Names are written in ferry's convention whatever the source used,
	// so the layout reads the same in every engine.
	for i, im := range images {
		if im.Ref.Repo != "" {
			images[i].Desc = layout.Annotate(im.Desc, im.Ref)
		}
	}
	// Refused now rather than after the copy: names are entries, and an
	// index.json over the cap would lock every command out of the layout.
	if err := dst.CheckIndexRoom(images); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	// What the import will find already present must survive a gc until
	// Commit names it.
	if err := dst.Pin(ctx, g.Descriptors()); err != nil {
		return nil, err
	}
	if !s.Streamed() { // a stream is already staged by now
		if err := txn.CheckRoomFor(ctx, g.Blobs); err != nil {
			var nf *layout.NoFitError
			if errors.As(err, &nf) {
				return nil, fmt.Errorf("%s: image %s: %w", src, imageName(images, g.Owner(nf.Desc.Digest)), err)
			}
			return nil, err
		}
	}
	// A blob the destination holds (committed, or staged by a killed
	// import and adopted) is hashed there instead of read from the source
	// again: that is what makes a re-run after a kill resume. A stream's
	// blobs were hashed as they passed; the blobs a delta left out were
	// not, so they are hashed at the destination whatever the source.
	_, isDelta := rd.(*DeltaView)
	copyOpts := layout.CopyOptions{Concurrency: opts.Concurrency, Progress: opts.Progress, SkipExisting: true, VerifyExisting: !s.Streamed() || isDelta}
	if err := layout.Copy(ctx, rd, txn, g, copyOpts); err != nil {
		var ce *layout.CopyError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%s: image %s: %w", src, imageName(images, g.Owner(ce.Desc.Digest)), err)
		}
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	keep := map[digest.Digest]bool{}
	for _, b := range g.Blobs {
		keep[b.Digest] = true
		res.Size += b.Size
	}
	for _, n := range g.Nodes {
		keep[n.Desc.Digest] = true
		res.Size += n.Desc.Size
	}
	res.Blobs = len(keep)
	res.Notes = append(res.Notes, movedNames(dst, images)...)
	if err := txn.Commit(ctx, keep, images); err != nil {
		return nil, err
	}
	if n, size, dropped := dst.Reused(); n > 0 || dropped > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("resumed: %d blobs (%d bytes) staged by an interrupted import were hashed and reused, not read from %s again; %d bytes it had staged were not needed and removed", n, size, src, dropped))
	}
	for _, r := range dst.Repaired() {
		res.Repaired = append(res.Repaired, r.Desc.Digest)
		res.Notes = append(res.Notes, fmt.Sprintf("%s %s in %s was corrupt (%v); replaced with the verified copy from %s", r.Desc.MediaType, r.Desc.Digest, dir, r.Err, src))
	}
	return res, nil
}

// movedNames says which names the import takes from another image in the
// destination, as a tag moves on a registry: docker load warns of it too,
// and a user who did not expect it must not find out later.
func movedNames(dst *layout.Dir, images []layout.Image) []string {
	cur, err := dst.Images()
	if err != nil {
		return nil
	}
	had := map[string]digest.Digest{}
	for _, im := range cur {
		if im.Ref.Tag != "" {
			had[im.Name()] = im.Desc.Digest
		}
	}
	var notes []string
	for _, im := range images {
		if old, ok := had[im.Name()]; ok && old != im.Desc.Digest {
			notes = append(notes, fmt.Sprintf("%s moved from %s to %s (the old image stays until nothing names it and `ferry gc` runs)", im.Name(), old, im.Desc.Digest))
		}
	}
	return notes
}

// completeness reports the platforms of a sparse index that the source does
// not carry in full, at any depth of nested indexes (layout.Graph.Entries,
// the answer push and verify give too). A single image with anything
// missing, or an index with no complete platform, is an error: there
// would be nothing to run.
func completeness(g *layout.Graph, im layout.Image) ([]string, error) {
	if len(g.Missing) == 0 {
		return nil, nil
	}
	if n := g.Node(im.Desc.Digest); n == nil || n.Index == nil {
		if !g.Complete(im.Desc.Digest) {
			return nil, firstMissing(g, im.Desc)
		}
		return nil, nil
	}
	var out []string
	complete := 0
	for _, e := range g.Entries(im.Desc.Digest, nil) {
		if e.State == layout.Whole {
			complete++
			continue
		}
		label := e.Platform
		if label == "" {
			label = "entry"
		}
		out = append(out, fmt.Sprintf("%s (%s)", label, e.Desc.Digest))
	}
	if complete == 0 {
		return nil, fmt.Errorf("no platform of index %s is complete: %w", im.Desc.Digest, firstMissing(g, im.Desc))
	}
	return out, nil
}

// firstMissing names an absent descriptor of the image at root (the walk
// records, for each digest, the first image that reached it).
func firstMissing(g *layout.Graph, root ocispec.Descriptor) error {
	m := g.Missing[0]
	for _, x := range g.Missing {
		if g.Owner(x.Digest) == root.Digest {
			m = x
			break
		}
	}
	return fmt.Errorf("%s %s (%d bytes) is missing: %w", m.MediaType, m.Digest, m.Size, layout.ErrNotFound)
}

// Select picks the images the user named, or all of them.
func Select(all []layout.Image, names []string) ([]layout.Image, error) {
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, errors.New("holds no images")
		}
		return all, nil
	}
	var out []layout.Image
	seen := map[string]bool{}
	for _, n := range names {
		ims, err := layout.Match(all, n)
		if err != nil {
			return nil, err
		}
		for _, im := range ims {
			k := im.Name() + "@" + im.Desc.Digest.String()
			if !seen[k] {
				seen[k] = true
				out = append(out, im)
			}
		}
	}
	return out, nil
}

// imageName names the image whose root is d, for error messages.
func imageName(images []layout.Image, d digest.Digest) string {
	for _, im := range images {
		if im.Desc.Digest == d {
			return im.Name()
		}
	}
	return d.String()
}
