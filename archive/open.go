package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Source is an opened input of any supported kind. It is a read-only
// layout.Store plus the images found in it and what ferry had to do to
// understand them.
type Source struct {
	*layout.FS
	Images []layout.Image
	// Notes say how names were read and what was converted, for the user.
	Notes []string
	// Format is what the input is: "oci-layout", "oci-layout+docker-archive"
	// or "docker-archive".
	Format string
	// Mode is how it is read: "directory", "tar (read in place)" or
	// "tar stream (gzip)" and the like.
	Mode string

	stream  *streamFS
	closers []io.Closer
	// volumes says, for a volume set, which volume holds each member.
	volumes map[string]string
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Stage receives the content of a streamed archive (import). Without
	// it a streamed archive is hashed and only its documents are kept
	// (verify, ls, inspect).
	Stage *layout.Txn
	// Prompt, if set, lets a volume set be read with only some of its
	// volumes present: it is streamed, and each missing volume is asked
	// for when it is needed (one drive, many discs).
	Prompt VolumePrompt
	// Stream reads a volume set in one pass even where it could be read
	// in place.
	Stream bool
	// InPlace refuses, from its first bytes, a source that can be read
	// only in one pass (ErrNotInPlace), for a command that reads blobs in
	// any order. A volume set must then be complete: volumes fed one at a
	// time are a stream.
	InPlace bool
	// watch, if set, sees the size of every read of an archive file
	// (watch.go).
	watch func(n int)
}

// Open opens a layout directory, an archive file or "-" for stdin. An
// uncompressed tar file is indexed and read in place; compressed input and
// pipes are read once, start to end.
func Open(ctx context.Context, path string, opts OpenOptions) (*Source, error) {
	if path == "-" {
		if opts.InPlace {
			return nil, notInPlace("stdin", "a stream")
		}
		return openStream(ctx, os.Stdin, "stdin", opts)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, ocispec.ImageLayoutFile)); err != nil {
			if src, err := openVolumeSet(ctx, path, nil, opts); err == nil || !errors.Is(err, errNoVolumes) {
				return src, err
			}
			// A set of one is a plain archive named NAME.001.tar: the
			// directory a set was written into names it as well as a
			// larger set's directory would.
			if one, ok := singleVolume(path); ok {
				return Open(ctx, one, opts)
			}
		}
		root, err := os.OpenRoot(path)
		if err != nil {
			return nil, err
		}
		src := &Source{Mode: "directory", closers: []io.Closer{root}}
		if err := src.load(ctx, layout.NewFS(layout.RootFS(root), path), hashMember); err != nil {
			src.Close()
			return nil, err
		}
		return src, nil
	}
	if fi.Mode().IsRegular() {
		idx, comp, err := probeVolume(path)
		if err == nil {
			return openVolumeSet(ctx, filepath.Dir(path), &volumeFile{path: path, idx: idx, comp: comp}, opts)
		}
		if !errors.Is(err, errNotVolume) {
			return nil, err
		}
	}
	f, err := openCancellable(ctx, path, fi)
	if err != nil {
		return nil, err
	}
	var rd sourceFile = f
	if opts.watch != nil {
		rd = watched{f, opts.watch}
	}
	br := bufio.NewReaderSize(rd, 64<<10)
	comp := detect(br)
	if opts.InPlace && (comp != None || !fi.Mode().IsRegular()) {
		f.Close()
		if comp != None {
			return nil, notInPlace(path, "compressed ("+comp.String()+")")
		}
		return nil, notInPlace(path, "not a regular file")
	}
	if comp != None || !fi.Mode().IsRegular() {
		src, err := openStream(ctx, br, path, opts)
		if err != nil {
			f.Close()
			return nil, err
		}
		src.closers = append(src.closers, f)
		return src, nil
	}
	// The size is the opened file's, not the path's: the file may have
	// been replaced since the Stat above.
	ofi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	t, err := indexTar(ctx, rd, ofi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	src := &Source{Mode: "tar (read in place)", closers: []io.Closer{f}}
	if err := src.load(ctx, layout.NewFS(t, path), hashMember); err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// OpenStream reads an archive from r in one pass, as Open does for
// compressed files and stdin; label names it in messages.
func OpenStream(ctx context.Context, r io.Reader, label string, opts OpenOptions) (*Source, error) {
	return openStream(ctx, r, label, opts)
}

func openStream(ctx context.Context, r io.Reader, label string, opts OpenOptions) (*Source, error) {
	cr, stop := cancellable(ctx, r)
	defer stop()
	br := bufio.NewReaderSize(cr, 64<<10)
	comp := detect(br)
	zr, err := decompress(br, comp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer zr.Close()
	sfs, err := readStream(ctx, zr, label, opts.Stage)
	if err != nil {
		return nil, err
	}
	mode := "tar stream"
	if comp != None {
		mode += " (" + comp.String() + ")"
	}
	return streamSource(ctx, sfs, label, mode)
}

// streamSource is a Source over a tar read in one pass.
func streamSource(ctx context.Context, sfs *streamFS, label, mode string) (*Source, error) {
	src := &Source{Mode: mode, stream: sfs}
	// A streamed member was hashed (and, if compressed, its DiffID taken)
	// as it passed; its facts come from that record.
	facts := func(*layout.FS) factsFunc {
		return func(_ context.Context, name string) (fileFacts, error) {
			e := sfs.entry(name)
			if e == nil {
				return fileFacts{}, fs.ErrNotExist
			}
			if e.err != nil {
				return fileFacts{}, e.err
			}
			diff := e.diffID
			if e.comp == None {
				diff = e.digest
			}
			return fileFacts{path: name, digest: e.digest, diffID: diff, size: e.size, comp: e.comp}, nil
		}
	}
	if err := src.load(ctx, layout.NewFS(sfs, label), facts); err != nil {
		return nil, err
	}
	return src, nil
}

// load finds out what the file system holds and reads its images, then
// refuses whatever else it holds that no image tool writes.
func (src *Source) load(ctx context.Context, s *layout.FS, facts func(*layout.FS) factsFunc) error {
	if err := src.loadImages(ctx, s, facts); err != nil {
		return err
	}
	return refuseStrays(ctx, s)
}

func (src *Source) loadImages(ctx context.Context, s *layout.FS, facts func(*layout.FS) factsFunc) error {
	src.FS = s
	hasIndex := s.HasLayout()
	_, err := fs.Lstat(s.Sys(), dockerManifestFile)
	hasDocker := err == nil
	switch {
	case hasIndex:
		if err := s.CheckLayout(); err != nil {
			return err
		}
		ims, err := s.Images()
		if err != nil {
			return err
		}
		src.Images, src.Format = ims, "oci-layout"
		for _, im := range ims {
			if im.Note != "" {
				src.Notes = append(src.Notes, fmt.Sprintf("%s %s: %s", im.Name(), im.Desc.Digest, im.Note))
			}
		}
		if hasDocker {
			src.Format = "oci-layout+docker-archive"
			return src.reconcileDocker(ctx, facts(s))
		}
		return nil
	case hasDocker:
		items, err := readDockerManifest(s)
		if err != nil {
			return err
		}
		ims, notes, err := convertDocker(ctx, s, items, facts(s), nil)
		if err != nil {
			return err
		}
		src.Images, src.Notes, src.Format = ims, notes, "docker-archive"
		return nil
	}
	return fmt.Errorf("%s: %w: neither an OCI layout (no %s) nor a docker-save archive (no %s)", s.Label(), layout.ErrInvalid, ocispec.ImageLayoutFile, dockerManifestFile)
}

// reconcileDocker converts the manifest.json images that index.json does
// not already describe: docker before 26 left untagged images out of its
// index, so the two views must never be assumed to agree.
func (src *Source) reconcileDocker(ctx context.Context, facts factsFunc) error {
	items, err := readDockerManifest(src.FS)
	if err != nil {
		src.Notes = append(src.Notes, fmt.Sprintf("manifest.json ignored: %v", err))
		return nil
	}
	roots := make([]ocispec.Descriptor, 0, len(src.Images))
	for _, im := range src.Images {
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, src.FS, roots, layout.WalkOptions{AllowMissing: true})
	if err != nil {
		return err
	}
	covered := map[digest.Digest]bool{}
	for _, n := range g.Nodes {
		if n.Manifest != nil {
			covered[n.Manifest.Config.Digest] = true
		}
	}
	ims, notes, err := convertDocker(ctx, src.FS, items, facts, covered)
	if err != nil {
		return err
	}
	for i := range notes {
		notes[i] += " (listed only in manifest.json)"
	}
	src.Images = append(src.Images, ims...)
	src.Notes = append(src.Notes, notes...)
	return nil
}

// Streamed reports whether the source was read as a stream; its blobs are
// then already hashed and Check answers from that record.
func (src *Source) Streamed() bool { return src.stream != nil }

// Problems are entry-level failures a streamed read recorded (a blob whose
// bytes do not match its name) before the graph was even looked at.
func (src *Source) Problems() []error {
	if src.stream == nil {
		return nil
	}
	return src.stream.problems
}

// Check verifies one blob against its descriptor: by reading and hashing
// it, or, for a streamed archive, from the digest taken as it passed.
func (src *Source) Check(ctx context.Context, d ocispec.Descriptor) error {
	if src.stream == nil {
		rc, err := src.Fetch(ctx, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		vr, err := layout.NewVerifyReader(ctxReader{ctx, rc}, d)
		if err == nil {
			err = vr.Drain()
		}
		if err != nil {
			p, _, _ := src.Locate(d.Digest)
			if v := src.volumes[p]; v != "" {
				p += " (" + v + ")"
			}
			return fmt.Errorf("%s: %s: %w", src.Label(), p, err)
		}
		return nil
	}
	p, inMem, err := src.Locate(d.Digest)
	if err != nil {
		return err
	}
	if inMem {
		return nil // generated by ferry from verified parts
	}
	e := src.stream.entry(p)
	if e == nil || e.kind != kindFile {
		return fmt.Errorf("%s: blob %s (%s) is missing: %w", src.Label(), d.Digest, p, layout.ErrNotFound)
	}
	if e.err != nil {
		return e.err
	}
	if e.size != d.Size {
		return fmt.Errorf("%s: blob %s is %d bytes, its descriptor says %d: %w", src.Label(), p, e.size, d.Size, layout.ErrSizeMismatch)
	}
	if e.digest != d.Digest {
		return fmt.Errorf("%s: %s: %w", src.Label(), p, &layout.MismatchError{Want: d.Digest, Got: e.digest})
	}
	return nil
}

// Close releases the files behind the source.
func (src *Source) Close() error {
	var errs []error
	for _, c := range src.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
