package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// WriteOptions tune Write.
type WriteOptions struct {
	// Compression of the whole archive; CompressionFor(path) by default.
	Compression *Compression
	// Platforms keeps only these platforms of multi-platform images. The
	// original index is kept byte for byte (its digest does not change),
	// so the archive holds a sparse index; Result.Filtered says what went.
	Platforms []ocispec.Platform
	// Progress, if set, is called with bytes of blob content written.
	Progress func(n int64)
	// Total, if set, learns the bytes the archive will hold once planned.
	Total func(n int64)
	// Format is the archive's shape; Both, the zero value, suits every loader.
	Format Format
	// Have, if set, makes a delta archive: every blob the have-list names
	// (digest and size) is left out, and the archive records what it left
	// out (see delta.go). A delta is written in the OCI format only.
	Have *layout.HaveList
	// VolumeSize, if set, cuts the archive into a set of volumes of at
	// most this many bytes each (see volume_write.go).
	VolumeSize int64
	// medium, if set, replaces the look at the destination's file system:
	// tests of the exact sizes give a FAT-like limit small enough to write.
	medium func(dest string) *medium
}

// Result describes a written archive.
type Result struct {
	Path     string
	Format   Format
	Images   []layout.Image
	Blobs    int
	Size     int64    // bytes of blob content
	Filtered []string // platform manifests left out, as digests
	Notes    []string
	// Delta is set for a delta archive: its base and what it left out.
	Delta   *DeltaBase
	Volumes []string // the files of a volume set, in order
	// Kept is set when the write resumed what a killed run left.
	Kept *Kept
}

// Kept is what a resumed write kept of a killed run's bytes, checked again.
type Kept struct {
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// keep records segments a resumed write kept, for the result and progress.
func (r *Result) keep(name, temp string, segs []seg, progress func(int64)) {
	if r.Kept == nil {
		r.Kept = &Kept{}
	}
	k := Kept{}
	for _, s := range segs {
		switch {
		case s.blob.Digest != "":
			k.Blobs++
			k.Bytes += s.blob.Size
		case s.part != nil:
			k.Bytes += s.part.size
			if s.part.off+s.part.size == s.part.item.size {
				k.Blobs++
			}
		}
	}
	r.Kept.Blobs += k.Blobs
	r.Kept.Bytes += k.Bytes
	r.Notes = append(r.Notes, keptNote(name, temp, k.Blobs, k.Bytes, r.Blobs))
	if progress != nil && k.Bytes > 0 {
		progress(k.Bytes)
	}
}

// MarshalJSON gives --json the same lowerCamel shape as every other
// command's output, with each image as its name and digest.
func (r *Result) MarshalJSON() ([]byte, error) {
	type image struct {
		Name      string `json:"name"`
		Digest    string `json:"digest"`
		MediaType string `json:"mediaType"`
	}
	out := struct {
		Path     string     `json:"path"`
		Format   Format     `json:"format"`
		Images   []image    `json:"images"`
		Blobs    int        `json:"blobs"`
		Size     int64      `json:"size"`
		Filtered []string   `json:"filtered,omitempty"`
		Notes    []string   `json:"notes,omitempty"`
		Delta    *DeltaBase `json:"delta,omitempty"`
		Volumes  []string   `json:"volumes,omitempty"`
		Kept     *Kept      `json:"kept,omitempty"`
	}{r.Path, r.Format, make([]image, 0, len(r.Images)), r.Blobs, r.Size, r.Filtered, r.Notes, r.Delta, r.Volumes, r.Kept}
	for _, im := range r.Images {
		out.Images = append(out.Images, image{im.Name(), im.Desc.Digest.String(), im.Desc.MediaType})
	}
	return json.Marshal(out)
}

// mtime is the timestamp of every entry: fixed, so the same images always
// give a byte-identical archive. SOURCE_DATE_EPOCH overrides it, as
// reproducible-build tooling expects.
func mtime() time.Time {
	if v, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(v, 0).UTC()
	}
	return time.Unix(0, 0).UTC()
}

// Write creates the archive at dest from images in src. The tar is at once
// an OCI layout (oci-layout, index.json with full names, blobs/) and a
// docker-save archive (manifest.json with RepoTags), unless opts.Format
// asks for one of the two. It is written to a
// temporary name beside dest, synced, and renamed only when complete: a
// failure or crash never leaves a partial archive under dest's name.
func Write(ctx context.Context, src layout.ReadOnly, images []layout.Image, dest string, opts WriteOptions) (*Result, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("no images to write")
	}
	if fi, err := os.Stat(filepath.Dir(dest)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cannot write %s: directory %s does not exist (create it first)", dest, filepath.Dir(dest))
	}
	named := make([]layout.Image, len(images))
	for i, im := range images {
		named[i] = im
		if im.Ref.Repo != "" || im.Ref.Tag != "" {
			named[i].Desc = layout.Annotate(im.Desc, im.Ref)
		}
	}
	layout.SortImages(named)
	if err := deltaFormat(&opts); err != nil {
		return nil, err
	}
	if err := refuseDeltaSource(ctx, src); err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, src, named, opts.Platforms, opts.Format)
	if err != nil {
		return nil, err
	}
	if err := p.cutDelta(opts.Have); err != nil {
		return nil, err
	}
	comp := CompressionFor(dest)
	if opts.Compression != nil {
		comp = *opts.Compression
	}
	med, mediaNotes, err := prepareMedium(dest, &opts)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(filepath.Dir(dest))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	res := &Result{Path: dest, Format: opts.Format, Images: named, Blobs: len(p.meta) + len(p.layers), Notes: slices.Concat(p.skipped, mediaNotes)}
	for _, d := range append(append([]ocispec.Descriptor(nil), p.meta...), p.layers...) {
		res.Size += d.Size
	}
	p.deltaResult(res)
	if opts.Total != nil {
		opts.Total(res.Size)
	}
	for _, f := range p.graph.Filtered {
		res.Filtered = append(res.Filtered, fmt.Sprintf("%s %s", layout.PlatformString(f.Platform), f.Digest))
	}
	if opts.Format.oci() {
		res.Notes = append(res.Notes, sharedRefNames(named)...)
	}
	if opts.Format == Docker {
		res.Images = p.dockerImages
		res.Notes = append(res.Notes, fmt.Sprintf("docker format: one platform per image (%s); loaders will compute new manifest digests, image IDs stay the config digests", p.platform))
	}
	if opts.VolumeSize > 0 {
		if err := writeVolumes(ctx, root, dest, opts.VolumeSize, comp, opts.Format, src, p, res, opts.Progress, med); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := med.checkArchive(dest, comp, opts.Format, p, res); err != nil {
		return nil, err
	}
	segs, err := archiveSegs(opts.Format, p, res)
	if err != nil {
		return nil, err
	}
	tmp, err := writeArchiveFile(ctx, root, dest, comp, segs, src, res, opts.Progress, med)
	if err != nil {
		return nil, err
	}
	if err := tmp.Commit(filepath.Base(dest)); err != nil {
		return nil, err
	}
	return res, nil
}

// Leftovers lists the temp files killed writes of the archive dest left
// beside it, without removing them (verify reports them).
func Leftovers(dest string) []layout.Leftover {
	root, err := os.OpenRoot(filepath.Dir(dest))
	if err != nil {
		return nil
	}
	defer root.Close()
	return layout.StaleTemps(root, ".", tempPrefix(dest), false)
}

// LeftoverNote words leftovers for notes: how many, where, their bytes.
func LeftoverNote(los []layout.Leftover, where, what string) string {
	var size int64
	names := make([]string, 0, len(los))
	for _, l := range los {
		size += l.Size
		names = append(names, l.Path)
	}
	return fmt.Sprintf("%s %d leftover(s) of killed ferry runs %s, %d bytes: %s", what, len(los), where, size, strings.Join(names, ", "))
}

// tempPrefix names the temp file an archive is written to before it is
// renamed to dest: hidden, beside dest (a rename cannot cross file
// systems), and recognisable, so leftovers of a killed run can be found.
func tempPrefix(dest string) string { return "." + filepath.Base(dest) + ".tmp-" }

// compressor wraps w in the writer of comp, or returns nil for a plain tar.
func compressor(w io.Writer, comp Compression) (io.WriteCloser, error) {
	switch comp {
	case Gzip:
		gw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		return gw, nil
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderLevel(zstd.SpeedDefault))
	}
	return nil, nil
}

// archiveSegs lists a single archive's segments in the order they are
// written: its documents, then one blob each, then the tar's end.
func archiveSegs(format Format, p *plan, res *Result) ([]seg, error) {
	head, err := headFiles(format, p, res)
	if err != nil {
		return nil, err
	}
	first := seg{}
	for _, f := range head {
		first.entries = append(first.entries, member{name: f.name, data: f.data})
	}
	first.entries = append(first.entries, member{name: "blobs/", dir: true})
	algs := map[string]bool{}
	if p.delta != nil {
		first.entries = append(first.entries, member{name: "blobs/sha256/", dir: true}, member{name: blobName(p.deltaBase.Record), data: p.delta})
		algs["sha256"] = true
	}
	segs := []seg{first}
	for _, d := range slices.Concat(p.meta, p.layers) {
		s := seg{blob: d}
		if a := d.Digest.Algorithm().String(); !algs[a] {
			algs[a] = true
			s.entries = []member{{name: "blobs/" + a + "/", dir: true}}
		}
		segs = append(segs, s)
	}
	return append(segs, seg{trailer: true}), nil
}

// writeArchiveFile writes the segments into a temp file beside name,
// resuming the one a killed write left if its bytes check out, and
// returns it for the caller to commit. A failed write keeps its temp for
// the next run to resume, unless the medium is full or too small for it.
func writeArchiveFile(ctx context.Context, root *os.Root, name string, comp Compression, segs []seg, src layout.ReadOnly, res *Result, progress func(int64), med *medium) (*layout.Staged, error) {
	tmp, start, err := resumeOrStage(ctx, root, name, comp, segs, res, progress)
	if err != nil {
		return nil, err
	}
	whole := tmp.Size()
	err = writeSegs(ctx, med.capped(tmp, name, tmp.Size()), comp, segs[start:], src, nil, progress, func() { whole = tmp.Size() })
	if err == nil {
		// A signal during the last blob's copy is seen here at the
		// latest: nothing is committed after it.
		err = ctx.Err()
	}
	if err != nil {
		if keepOrAbort(tmp, whole, err) {
			err = resumable(err, whole)
		}
		return nil, err
	}
	return tmp, nil
}

// resumable tells the user a failed write left its progress to resume:
// otherwise a hidden temp file of many gigabytes goes unnoticed.
func resumable(err error, kept int64) error {
	return fmt.Errorf("%w (the %s written whole so far are kept in a hidden temp file beside the destination: the same command resumes from them)", err, SizeWords(kept))
}

// writeSegs writes segments in order, fetching each blob or chunk from
// src, and calls done after each.
func writeSegs(ctx context.Context, w io.Writer, comp Compression, segs []seg, src layout.ReadOnly, open **chunkSource, progress func(int64), done func()) error {
	o, err := newSegOut(w, comp)
	if err != nil {
		return err
	}
	for i := range segs {
		s := &segs[i]
		var fill content
		switch {
		case s.part != nil:
			fill = chunkContent(src, s.part, open, progress)
		case s.blob.Digest != "":
			fill = blobContent(src, s.blob, progress)
		}
		if err := o.write(ctx, s, fill); err != nil {
			return err
		}
		done()
	}
	return nil
}

// keepOrAbort leaves a failed write's temp file, cut after its last whole
// segment (nothing unverified stays), for the next run to resume from; or
// removes it when the failure was the medium's (full, or a file too large
// for it): a rerun there cannot end otherwise.
// It reports whether the temp file was kept.
func keepOrAbort(tmp *layout.Staged, whole int64, err error) bool {
	if errors.Is(err, layout.ErrTooLarge) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || whole == 0 {
		tmp.Abort()
		return false
	}
	if tmp.Truncate(whole) != nil || tmp.Keep() != nil {
		tmp.Abort()
		return false
	}
	return true
}

// resumeOrStage takes over what a killed write of name left, truncated to
// the segments that check out, or stages a new temp file. It returns the
// index of the first segment still to write.
func resumeOrStage(ctx context.Context, root *os.Root, name string, comp Compression, segs []seg, res *Result, progress func(int64)) (*layout.Staged, int, error) {
	tmp, notes := takeOver(root, name)
	res.Notes = append(res.Notes, notes...)
	if tmp != nil {
		kept := scanKept(ctx, tmp, tmp.Size(), comp, segs, mtime(), splitHash{})
		if len(kept) > 0 && tmp.Truncate(kept[len(kept)-1].end) == nil {
			res.keep(name, tmp.Name(), segs[:len(kept)], progress)
			return tmp, len(kept), nil
		}
		// None of it is what this write puts there.
		res.Notes = append(res.Notes, LeftoverNote([]layout.Leftover{{Path: tmp.Name(), Size: tmp.Size()}}, "beside "+name, "removed"))
		tmp.Abort()
	}
	tmp, err := layout.Stage(root, ".", tempPrefix(name))
	return tmp, 0, err
}

// headFile is a document an archive carries before its blobs.
type headFile struct {
	name string
	data []byte
}

// headFiles are oci-layout, index.json and manifest.json as the format
// asks for them: the one place an archive's documents are made, so a
// volume set's first volume carries exactly what a single archive does.
func headFiles(format Format, p *plan, res *Result) ([]headFile, error) {
	var out []headFile
	ann := map[string]string{
		AnnotationFormat: "1",
		AnnotationBlobs:  strconv.Itoa(res.Blobs),
		AnnotationSize:   strconv.FormatInt(res.Size, 10),
	}
	if p.delta != nil {
		ann[AnnotationDeltaBase] = p.deltaAnn
	}
	if format.oci() {
		b, err := layout.EncodeIndex(p.images, ann, res.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, headFile{ocispec.ImageLayoutFile, p.layoutFile()}, headFile{ocispec.ImageIndexFile, b})
	}
	if format.docker() {
		dockerJSON, _ := json.Marshal(p.docker)
		out = append(out, headFile{dockerManifestFile, dockerJSON})
	}
	return out, nil
}

// pipelineDepth is the buffers (1 MiB each) between two stages of a blob's
// stream: enough to ride out the stalls of a socket or a disk.
const pipelineDepth = 4

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}

// sharedRefNames warns of a tag that names different images in different
// repositories: ref.name holds the tag alone (the convention docker and
// containerd follow, which keeps the full name in io.containerd.image.name),
// so a tool that picks an entry by ref.name alone, as skopeo's
// oci-archive:FILE:TAG does, cannot tell them apart.
func sharedRefNames(images []layout.Image) []string {
	by := map[string][]string{}
	digests := map[string]map[string]bool{}
	for _, im := range images {
		tag := im.Desc.Annotations[ocispec.AnnotationRefName]
		if tag == "" || im.Ref.Tag == "" {
			continue
		}
		if digests[tag] == nil {
			digests[tag] = map[string]bool{}
		}
		by[tag] = append(by[tag], im.Name())
		digests[tag][im.Desc.Digest.String()] = true
	}
	var notes []string
	for _, tag := range slices.Sorted(maps.Keys(by)) {
		if len(digests[tag]) > 1 {
			notes = append(notes, fmt.Sprintf("tag %q names %d different images (%s): tools that select by the OCI ref.name alone (skopeo oci-archive:FILE:%s) cannot tell them apart; docker, podman and ctr use the full names", tag, len(by[tag]), strings.Join(by[tag], ", "), tag))
		}
	}
	return notes
}
