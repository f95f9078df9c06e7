package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
	}{r.Path, r.Format, make([]image, 0, len(r.Images)), r.Blobs, r.Size, r.Filtered, r.Notes, r.Delta, r.Volumes}
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
	// A killed earlier write of dest left its temp file; a live one's is
	// locked and stays.
	stale := layout.StaleTemps(root, ".", tempPrefix(dest), true)
	res := &Result{Path: dest, Format: opts.Format, Images: named, Blobs: len(p.meta) + len(p.layers), Notes: slices.Concat(p.skipped, mediaNotes)}
	if len(stale) > 0 {
		res.Notes = append(res.Notes, LeftoverNote(stale, "beside "+dest, "removed"))
	}
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
	tmp, err := layout.Stage(root, ".", tempPrefix(dest))
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	if err := writeTar(ctx, med.capped(tmp, dest), comp, opts.Format, src, p, res, opts.Progress); err != nil {
		return nil, err
	}
	// A signal during the last blob's copy is seen here at the latest:
	// nothing is committed after it.
	if err := ctx.Err(); err != nil {
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

func writeTar(ctx context.Context, w io.Writer, comp Compression, format Format, src layout.ReadOnly, p *plan, res *Result, progress func(int64)) error {
	o, err := newTarOut(w, comp)
	if err != nil {
		return err
	}
	tw, t, file, dir := o.tw, o.t, o.file, o.dir
	head, err := headFiles(format, p, res)
	if err != nil {
		return err
	}
	for _, f := range head {
		if err := file(f.name, f.data); err != nil {
			return err
		}
	}
	dirs := map[string]bool{}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if p.delta != nil {
		if err := dir("blobs/sha256/"); err != nil {
			return err
		}
		dirs["blobs/sha256/"] = true
		if err := file(blobName(p.deltaBase.Record), p.delta); err != nil {
			return err
		}
	}
	for _, d := range append(append([]ocispec.Descriptor(nil), p.meta...), p.layers...) {
		if err := ctx.Err(); err != nil {
			return err
		}
		alg := "blobs/" + d.Digest.Algorithm().String() + "/"
		if !dirs[alg] {
			if err := dir(alg); err != nil {
				return err
			}
			dirs[alg] = true
		}
		if err := copyBlob(ctx, tw, src, d, t, progress); err != nil {
			return err
		}
	}
	return o.close()
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

// copyBlob streams one blob from src into the tar through a VerifyReader:
// a corrupt source fails the archive, never lands in it.
func copyBlob(ctx context.Context, tw *tar.Writer, src layout.ReadOnly, d ocispec.Descriptor, t time.Time, progress func(int64)) error {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	// The tar takes one blob at a time, so one stream is all there is:
	// reading, hashing and writing each get a goroutine (and a core).
	ra := layout.NewReadAhead(rc, pipelineDepth)
	defer ra.Close()
	vr, err := layout.NewVerifyReader(ra, d)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: blobName(d.Digest), Mode: 0o644, Size: d.Size, ModTime: t, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	var w io.Writer = tw
	if progress != nil {
		w = progressWriter{tw, progress}
	}
	if _, err := layout.CopyBehind(w, ctxReader{ctx, vr}, pipelineDepth); err != nil {
		return fmt.Errorf("%s %s: %w", d.MediaType, d.Digest, err)
	}
	return nil
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
