package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info implements ReadOnly. A file on disk says nothing of its media type,
// so it is left empty: reading index.json here would make every call
// parse it again (a delta's check asks once per left-out blob); callers
// that know the images (archive.Source) add the roots' types.
func (s *FS) Info(ctx context.Context, dg digest.Digest) (BlobInfo, error) {
	p, b, err := s.locate(dg)
	if err != nil {
		return BlobInfo{}, err
	}
	info := BlobInfo{Digest: dg, Path: p}
	if b != nil {
		info.Size = int64(len(b))
		return info, nil
	}
	fi, err := s.lstatName(p)
	if errors.Is(err, fs.ErrNotExist) {
		return BlobInfo{}, fmt.Errorf("%s: blob %s (%s) is missing: %w", s.label, dg, p, ErrNotFound)
	}
	if err != nil {
		return BlobInfo{}, fmt.Errorf("%s: %w", s.label, err)
	}
	if !fi.Mode().IsRegular() {
		return BlobInfo{}, fmt.Errorf("%s: %s: %w: not a regular file (%s)", s.label, p, ErrUnsafe, fi.Mode().Type())
	}
	info.Size = fi.Size()
	return info, nil
}

// Names implements Lister: the entries of index.json, each with the name
// it carries.
func (s *FS) Names(context.Context) ([]Image, error) { return s.Images() }

// Resolve implements Resolver with the matching rules of Match: several
// entries of one name that disagree on the digest are an error.
func (s *FS) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	ims, err := s.Images()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return resolveIn(ims, ref, s.label)
}

// resolveIn picks the one descriptor ref names among ims.
func resolveIn(ims []Image, ref, label string) (ocispec.Descriptor, error) {
	m, err := Match(ims, ref)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", label, err)
	}
	return m[0].Desc, nil
}

// extraBlobs lists the aliased and generated blobs, sorted by digest.
func (s *FS) extraBlobs() []BlobInfo {
	s.mu.RLock()
	var out []BlobInfo
	for d, b := range s.mem {
		out = append(out, BlobInfo{Digest: d, Size: int64(len(b)), Path: "(generated) " + d.String()})
	}
	aliases := make(map[digest.Digest]string, len(s.alias))
	for d, p := range s.alias {
		aliases[d] = p
	}
	s.mu.RUnlock()
	for d, p := range aliases {
		bi := BlobInfo{Digest: d, Path: p}
		if fi, err := fs.Lstat(s.fsys, p); err != nil {
			bi.Err = err
		} else if !fi.Mode().IsRegular() {
			bi.Err = fmt.Errorf("%w: not a regular file (%s)", ErrUnsafe, fi.Mode().Type())
		} else {
			bi.Size = fi.Size()
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}
