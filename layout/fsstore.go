package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FS is a read-only OCI layout over any file system: a directory (through
// os.Root, so no link escapes it), a tar read in place, or a staged stream.
// Sharing one reader is what lets every input format get the same checks.
type FS struct {
	fsys  fs.FS
	label string // shown in messages: the directory or archive path
	// lstat, if set, stands in for fs.Lstat on fsys: a Dir answers from
	// the blob directory it holds open (heldDirs), without a path walk.
	lstat func(name string) (fs.FileInfo, error)
	// open, if set, stands in for fsys.Open the same way: reading back a
	// blob a pull has just written (its config, checked before index.json
	// names it) walked blobs/sha256 twice, five openat(2) calls a blob.
	open func(name string) (fs.File, error)

	mu    sync.RWMutex
	alias map[digest.Digest]string // content stored under another path (docker-save layers)
	mem   map[digest.Digest][]byte // documents generated in memory (converted manifests)
}

var (
	_ ReadOnly = (*FS)(nil)
	_ Lister   = (*FS)(nil)
	_ Resolver = (*FS)(nil)
)

// NewFS reads a layout from fsys; label names it in messages.
func NewFS(fsys fs.FS, label string) *FS {
	return &FS{fsys: fsys, label: label, alias: map[digest.Digest]string{}, mem: map[digest.Digest][]byte{}}
}

// Label is the path the store was opened from.
func (s *FS) Label() string { return s.label }

// Sys is the underlying file system, for callers that read other files of
// an archive (such as docker's manifest.json).
func (s *FS) Sys() fs.FS { return s.fsys }

// Alias serves d from another path of the file system; it is how the
// layers of a docker-save archive become blobs without being copied.
func (s *FS) Alias(d digest.Digest, name string) {
	s.mu.Lock()
	s.alias[d] = name
	s.mu.Unlock()
}

// AddBlob serves a document generated in memory, such as the OCI manifest
// ferry writes for a legacy docker-save image.
func (s *FS) AddBlob(b []byte) ocispec.Descriptor {
	d := digest.FromBytes(b)
	s.mu.Lock()
	s.mem[d] = b
	s.mu.Unlock()
	return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
}

// locate returns the path of d, validating it before any file access.
func (s *FS) locate(d digest.Digest) (string, []byte, error) {
	s.mu.RLock()
	b, inMem := s.mem[d]
	p, aliased := s.alias[d]
	s.mu.RUnlock()
	if inMem {
		return "", b, nil
	}
	if aliased {
		return p, nil, nil
	}
	p, err := BlobPath(d)
	return p, nil, err
}

// openRegular opens name only if it is a regular file: a symlink, FIFO or
// directory planted in a layout is refused, not followed.
func (s *FS) openRegular(name string) (fs.File, fs.FileInfo, error) {
	li, err := s.lstatName(name)
	if err != nil {
		return nil, nil, err
	}
	if !li.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: %w: not a regular file (%s)", name, ErrUnsafe, fileType(li.Mode()))
	}
	// The path may be swapped between Lstat and Open: what counts is the
	// file opened (RootFS opens without blocking, so a FIFO cannot hang).
	f, err := s.openName(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w: not a regular file (%s)", name, ErrUnsafe, fileType(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// fileType names a non-regular file's type in words a user knows (the
// mode string "p---------" is not one).
func fileType(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "fifo"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	case t&fs.ModeDir != 0:
		return "directory"
	case t == 0:
		return "regular file"
	default:
		return t.String()
	}
}

// Fetch implements Store.
func (s *FS) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	p, b, err := s.locate(d.Digest)
	if err != nil {
		return nil, err
	}
	if b != nil {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	f, fi, err := s.openRegular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: blob %s (%s) is missing: %w", s.label, d.Digest, p, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.label, err)
	}
	if fi.Size() != d.Size {
		f.Close()
		return nil, fmt.Errorf("%s: blob %s is %d bytes, its descriptor says %d: %w", s.label, p, fi.Size(), d.Size, ErrSizeMismatch)
	}
	return f, nil
}

// Exists implements Store: the blob is present with the expected size.
func (s *FS) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	p, b, err := s.locate(d.Digest)
	if err != nil {
		return false, err
	}
	if b != nil {
		return int64(len(b)) == d.Size, nil
	}
	fi, err := s.lstatName(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		// Something is there, and "missing" would send the user looking
		// for a file that is in plain sight.
		return false, fmt.Errorf("%s: blob %s (%s): %w: not a regular file (%s)", s.label, d.Digest, p, ErrUnsafe, fileType(fi.Mode()))
	}
	return fi.Size() == d.Size, nil
}

// lstatName is fs.Lstat on the store's files, or its stand-in.
func (s *FS) lstatName(name string) (fs.FileInfo, error) {
	if s.lstat != nil {
		return s.lstat(name)
	}
	return fs.Lstat(s.fsys, name)
}

// openName is fsys.Open on the store's files, or its stand-in.
func (s *FS) openName(name string) (fs.File, error) {
	if s.open != nil {
		return s.open(name)
	}
	return s.fsys.Open(name)
}

// Blobs implements Lister: every file under blobs/<alg>/, with the digest
// its name claims, then the blobs served from another path or generated in
// memory, which a caller enumerating content must see as well.
func (s *FS) Blobs(ctx context.Context) ([]BlobInfo, error) {
	out, err := s.fileBlobs()
	if err != nil {
		return nil, err
	}
	return append(out, s.extraBlobs()...), nil
}

func (s *FS) fileBlobs() ([]BlobInfo, error) {
	algs, err := fs.ReadDir(s.fsys, "blobs")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []BlobInfo
	for _, a := range algs {
		dir := path.Join("blobs", a.Name())
		if !a.IsDir() {
			out = append(out, BlobInfo{Path: dir, Err: fmt.Errorf("%w: %s is not a directory", ErrUnsafe, dir)})
			continue
		}
		ents, err := fs.ReadDir(s.fsys, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			bi := BlobInfo{Path: p}
			d, _, derr := DigestFromPath(p)
			bi.Digest = d
			info, ierr := e.Info()
			switch {
			case derr != nil:
				bi.Err = derr
			case ierr != nil:
				bi.Err = ierr
			case !info.Mode().IsRegular():
				bi.Err = fmt.Errorf("%w: not a regular file (%s)", ErrUnsafe, fileType(info.Mode()))
			default:
				bi.Size = info.Size()
			}
			out = append(out, bi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ReadFile reads a small control file (oci-layout, index.json,
// manifest.json), refusing links and anything over limit.
func (s *FS) ReadFile(name string, limit int64) ([]byte, error) {
	f, fi, err := s.openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %s is %d bytes: %w (limit %d)", s.label, name, fi.Size(), ErrTooLarge, limit)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: %s: %w (limit %d)", s.label, name, ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// HasLayout reports whether the file system holds an oci-layout file, the
// marker that it is (also) an OCI layout rather than only a docker archive.
func (s *FS) HasLayout() bool {
	_, err := fs.Lstat(s.fsys, ocispec.ImageLayoutFile)
	return err == nil
}

// DeltaLayoutVersion is the oci-layout version of a ferry delta archive.
// Every engine refuses a version it does not know, and says which it was:
// a delta lacks blobs that only its target holds, and docker's containerd
// store would otherwise load one without a word (it skips missing
// content), posing a delta as a full image. ferry reads it as 1.0.0.
const DeltaLayoutVersion = "ferry-delta-1: not loadable alone; use ferry import or ferry push where its base is"

// CheckLayout validates the oci-layout marker: a JSON object whose version
// is exactly 1.0.0, the only one any tool reads (or a ferry delta's).
func (s *FS) CheckLayout() error {
	b, err := s.ReadFile(ocispec.ImageLayoutFile, MaxLayoutFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: not an OCI layout: %s is missing: %w", s.label, ocispec.ImageLayoutFile, ErrInvalid)
		}
		return err
	}
	return ParseLayoutFile(b, s.label)
}

// MaxLayoutFileSize caps the oci-layout marker, a one-field document.
const MaxLayoutFileSize = 1 << 16

// ParseLayoutFile validates the bytes of an oci-layout marker, wherever
// they were read from (a directory, a tar, a web server).
func ParseLayoutFile(b []byte, label string) error {
	var l struct {
		Version *string `json:"imageLayoutVersion"`
	}
	if err := DecodeStrict(b, &l); err != nil {
		return fmt.Errorf("%s: %s: %w: %v", label, ocispec.ImageLayoutFile, ErrInvalid, err)
	}
	if l.Version == nil {
		return fmt.Errorf("%s: %s has no imageLayoutVersion: %w", label, ocispec.ImageLayoutFile, ErrInvalid)
	}
	if *l.Version != ocispec.ImageLayoutVersion && *l.Version != DeltaLayoutVersion {
		return fmt.Errorf("%s: %s: imageLayoutVersion %q is not supported (only %s): %w", label, ocispec.ImageLayoutFile, *l.Version, ocispec.ImageLayoutVersion, ErrInvalid)
	}
	return nil
}

// ReadIndex reads and strictly validates index.json.
func (s *FS) ReadIndex() (*ocispec.Index, error) {
	b, err := s.ReadFile(ocispec.ImageIndexFile, MaxIndexSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %s is missing: %w", s.label, ocispec.ImageIndexFile, ErrInvalid)
		}
		return nil, err
	}
	return ParseIndexJSON(b, s.label)
}

// ParseIndexJSON validates the bytes of a layout's index.json.
func ParseIndexJSON(b []byte, label string) (*ocispec.Index, error) {
	var sh shape
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: index.json: %w: %s", label, ErrInvalid, fmt.Sprintf(format, a...))
	}
	if err := StrictJSON(b); err != nil {
		return nil, bad("%v", err)
	}
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, bad("%v", err)
	}
	if sh.SchemaVersion == nil || *sh.SchemaVersion != 2 {
		return nil, bad("schemaVersion must be 2")
	}
	if sh.MediaType != "" && sh.MediaType != ocispec.MediaTypeImageIndex {
		return nil, bad("mediaType is %q, must be %s", sh.MediaType, ocispec.MediaTypeImageIndex)
	}
	if sh.Config != nil || sh.Layers != nil || sh.FSLayers != nil {
		return nil, bad("an index must not have config or layers")
	}
	if sh.Manifests == nil || string(sh.Manifests) == "null" {
		return nil, bad("manifests array is missing")
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, bad("%v", err)
	}
	for i, d := range idx.Manifests {
		if err := ValidateDescriptor(d); err != nil {
			return nil, bad("manifests[%d]: %v", i, err)
		}
	}
	return &idx, nil
}

// Images reads index.json and interprets the name of every entry.
func (s *FS) Images() ([]Image, error) {
	idx, err := s.ReadIndex()
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(idx.Manifests))
	for _, d := range idx.Manifests {
		out = append(out, InterpretEntry(d))
	}
	return out, nil
}

// Locate returns the path d is served from (or inMemory for a generated
// document), validating d first. Stream readers use it to find the entry
// they hashed for a descriptor.
func (s *FS) Locate(d digest.Digest) (p string, inMemory bool, err error) {
	p, b, err := s.locate(d)
	return p, b != nil, err
}
