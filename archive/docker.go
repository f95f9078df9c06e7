package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// dockerManifestFile is the docker-save table of contents.
const dockerManifestFile = "manifest.json"

// maxDockerManifest is containerd's limit for manifest.json.
const maxDockerManifest = 20 << 20

// dockerItem is one entry of a docker-save manifest.json.
type dockerItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   string                               `json:",omitempty"`
	Sources  map[digest.Digest]ocispec.Descriptor `json:"LayerSources,omitempty"`
}

// readDockerManifest reads manifest.json, strictly: it is as untrusted as
// any other document in the archive.
func readDockerManifest(s *layout.FS) ([]dockerItem, error) {
	b, err := s.ReadFile(dockerManifestFile, maxDockerManifest)
	if err != nil {
		return nil, err
	}
	if err := layout.StrictConfigJSON(b); err != nil {
		return nil, fmt.Errorf("%s: %s: %w: %v", s.Label(), dockerManifestFile, layout.ErrInvalid, err)
	}
	var items []dockerItem
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("%s: %s: %w: %v", s.Label(), dockerManifestFile, layout.ErrInvalid, err)
	}
	if items == nil {
		return nil, fmt.Errorf("%s: %s is null: %w", s.Label(), dockerManifestFile, layout.ErrInvalid)
	}
	return items, nil
}

// fileFacts are the digests of an archive member: of its bytes, and of its
// decompressed bytes when it is compressed (the DiffID of a docker layer).
type fileFacts struct {
	path   string
	digest digest.Digest
	diffID digest.Digest
	size   int64
	comp   Compression
}

// factsFunc learns the facts of a member: a streamed archive already knows
// them, an in-place one hashes the member.
type factsFunc func(ctx context.Context, name string) (fileFacts, error)

// resolveMember validates a path from manifest.json and follows at most one
// symlink inside the archive, as containers/image does: docker ≤24 and
// podman link repeated layers, and one level cannot loop.
func resolveMember(fsys fs.FS, name string) (string, error) {
	n, err := cleanName(name)
	if err != nil {
		return "", err
	}
	fi, err := fs.Lstat(fsys, n)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := fs.ReadLink(fsys, n)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", fmt.Errorf("%q: %w: symlink to absolute path %q", name, layout.ErrUnsafe, target)
		}
		if n, err = cleanName(path.Join(path.Dir(n), target)); err != nil {
			return "", err
		}
		if fi, err = fs.Lstat(fsys, n); err != nil {
			return "", err
		}
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%q: %w: not a regular file after following one link", name, layout.ErrUnsafe)
	}
	return n, nil
}

// dockerConfig is the part of an image config a conversion must check.
type dockerConfig struct {
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// convertDocker turns manifest.json items into OCI images served by s:
// the config and layers are aliased to their archive members byte for byte
// and only the manifest is new. skip lists configs an OCI index already
// covers (docker 25+ archives carry both views).
func convertDocker(ctx context.Context, s *layout.FS, items []dockerItem, facts factsFunc, skip map[digest.Digest]bool) ([]layout.Image, []string, error) {
	var images []layout.Image
	var notes []string
	for i, it := range items {
		what := fmt.Sprintf("%s: manifest.json entry %d (%v)", s.Label(), i, it.RepoTags)
		cfgPath, err := resolveMember(s.Sys(), it.Config)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: config %q: %w", what, it.Config, err)
		}
		cfgBytes, err := s.ReadFile(cfgPath, layout.MaxManifestSize)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: config: %w", what, err)
		}
		cfgDigest := digest.FromBytes(cfgBytes)
		if skip[cfgDigest] {
			continue
		}
		var cfg dockerConfig
		if err := layout.StrictConfigJSON(cfgBytes); err != nil {
			return nil, nil, fmt.Errorf("%s: config %s: %w: %v", what, cfgDigest, layout.ErrInvalid, err)
		}
		if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
			return nil, nil, fmt.Errorf("%s: config %s: %w: %v", what, cfgDigest, layout.ErrInvalid, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(it.Layers) {
			return nil, nil, fmt.Errorf("%s: %w: %d layers listed but config %s has %d diff_ids", what, layout.ErrInvalid, len(it.Layers), cfgDigest, len(cfg.RootFS.DiffIDs))
		}
		s.Alias(cfgDigest, cfgPath)
		man := ocispec.Manifest{
			Versioned: specsV2,
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgBytes))},
			Layers:    make([]ocispec.Descriptor, 0, len(it.Layers)),
		}
		for j, lp := range it.Layers {
			p, err := resolveMember(s.Sys(), lp)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: layer %d %q: %w", what, j, lp, err)
			}
			f, err := facts(ctx, p)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: layer %d %q: %w", what, j, lp, err)
			}
			if f.diffID != cfg.RootFS.DiffIDs[j] {
				return nil, nil, fmt.Errorf("%s: layer %d %q: %w: its DiffID is %s but config %s says diff_ids[%d] = %s",
					what, j, lp, layout.ErrDigestMismatch, f.diffID, cfgDigest, j, cfg.RootFS.DiffIDs[j])
			}
			s.Alias(f.digest, p)
			man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: layerMediaType(f.comp), Digest: f.digest, Size: f.size})
		}
		raw, _ := json.Marshal(man)
		desc := s.AddBlob(raw)
		desc.MediaType = ocispec.MediaTypeImageManifest
		tags := 0
		for _, t := range it.RepoTags {
			r, err := layout.ParseRef(t)
			if err != nil || r.Tag == "" {
				notes = append(notes, fmt.Sprintf("%s: RepoTag %q ignored: not name:tag", what, t))
				continue
			}
			images = append(images, layout.Image{Ref: r, Desc: layout.Annotate(desc, r), NameFrom: layout.NameFromRepoTags})
			tags++
		}
		if tags == 0 {
			images = append(images, layout.Image{Desc: desc, NameFrom: layout.NameFromNone})
		}
		notes = append(notes, fmt.Sprintf("converted docker-save image %v: generated OCI manifest %s; config %s (the image ID) and %d layers kept byte for byte",
			it.RepoTags, desc.Digest, cfgDigest, len(it.Layers)))
	}
	return images, notes, nil
}

func layerMediaType(c Compression) string {
	switch c {
	case Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// hashMember computes the facts of a member of an in-place archive or
// directory by reading it (twice over for a compressed layer's DiffID).
func hashMember(s *layout.FS) factsFunc {
	return func(ctx context.Context, name string) (fileFacts, error) {
		f, err := s.Sys().Open(name)
		if err != nil {
			return fileFacts{}, err
		}
		defer f.Close()
		var head [4]byte
		n, _ := io.ReadFull(f, head[:])
		comp := compressionOf(head[:n])
		rs, ok := f.(io.ReadSeeker)
		if !ok {
			return fileFacts{}, errors.New("member is not seekable")
		}
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return fileFacts{}, err
		}
		h := digest.Canonical.Digester()
		size, err := layout.CopyBuffer(h.Hash(), ctxReader{ctx, rs})
		if err != nil {
			return fileFacts{}, err
		}
		ff := fileFacts{path: name, digest: h.Digest(), diffID: h.Digest(), size: size, comp: comp}
		if comp != None {
			if _, err := rs.Seek(0, io.SeekStart); err != nil {
				return fileFacts{}, err
			}
			zr, err := decompress(ctxReader{ctx, rs}, comp)
			if err != nil {
				return fileFacts{}, err
			}
			defer zr.Close()
			dh := digest.Canonical.Digester()
			if _, err := layout.CopyBuffer(dh.Hash(), zr); err != nil {
				return fileFacts{}, fmt.Errorf("decompressing: %w", err)
			}
			ff.diffID = dh.Digest()
		}
		return ff, nil
	}
}
