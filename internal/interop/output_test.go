//go:build interop

package interop

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// output is what a tool wrote (a tar or a layout directory), read here
// without ferry: index.json, manifest.json and the small blobs. It is the
// suite's own view of the names and digests a tool gave its images.
type output struct {
	dir   string            // a layout directory, or
	files map[string][]byte // the files of a tar (these test images are tiny)
	index *ocispec.Index    // nil without index.json
	items []dockerItem      // manifest.json, nil without one
}

type dockerItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

const annName = "io.containerd.image.name"

func readOutput(p string) (*output, error) {
	o := &output{}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		o.dir = p
	} else if err := o.readTar(p); err != nil {
		return nil, err
	}
	if b, err := o.read("index.json"); err == nil {
		o.index = &ocispec.Index{}
		if err := json.Unmarshal(b, o.index); err != nil {
			return nil, fmt.Errorf("%s: index.json: %w", p, err)
		}
	}
	if b, err := o.read("manifest.json"); err == nil {
		if err := json.Unmarshal(b, &o.items); err != nil {
			return nil, fmt.Errorf("%s: manifest.json: %w", p, err)
		}
	}
	if o.index == nil && o.items == nil {
		return nil, fmt.Errorf("%s has neither index.json nor manifest.json", p)
	}
	return o, nil
}

func (o *output) readTar(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	o.files = map[string][]byte{}
	tr := tar.NewReader(f)
	links := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			o.files[name] = b
		case tar.TypeSymlink: // docker-archive layer links, one level
			links[name] = path.Join(path.Dir(name), h.Linkname)
		}
	}
	for n, target := range links {
		o.files[n] = o.files[target]
	}
	return nil
}

func (o *output) read(name string) ([]byte, error) {
	if o.dir != "" {
		return os.ReadFile(filepath.Join(o.dir, filepath.FromSlash(name)))
	}
	b, ok := o.files[path.Clean(name)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return b, nil
}

func (o *output) blob(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b, err := o.read("blobs/" + d.Algorithm().String() + "/" + d.Encoded())
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s does not hash to its name", d)
	}
	return b, nil
}

// entry finds the index.json entry carrying name: the containerd name, or
// ref.name when it is a full reference (podman, skopeo with a full REF).
func (o *output) entry(name string) (ocispec.Descriptor, bool) {
	if o.index == nil {
		return ocispec.Descriptor{}, false
	}
	for _, d := range o.index.Manifests {
		for _, n := range []string{d.Annotations[annName], d.Annotations[ocispec.AnnotationRefName]} {
			if n != "" && normalize(n) == name {
				return d, true
			}
		}
	}
	return ocispec.Descriptor{}, false
}

// item finds the manifest.json entry carrying name ("" for one without
// RepoTags whose config is cfg).
func (o *output) item(name, cfg string) (dockerItem, bool) {
	for _, it := range o.items {
		if name == "" && len(it.RepoTags) == 0 && o.itemConfig(it) == cfg {
			return it, true
		}
		for _, rt := range it.RepoTags {
			if name != "" && normalize(rt) == name {
				return it, true
			}
		}
	}
	return dockerItem{}, false
}

// itemConfig hashes the config a manifest.json entry points at.
func (o *output) itemConfig(it dockerItem) string {
	b, err := o.read(it.Config)
	if err != nil {
		return ""
	}
	return digest.FromBytes(b).String()
}

// hostConfig follows an index.json entry down to the linux/amd64 image and
// returns its config digest (the image ID engines report).
func (o *output) hostConfig(d ocispec.Descriptor) (string, error) {
	for depth := 0; depth < 3; depth++ {
		b, err := o.blob(d.Digest)
		if err != nil {
			return "", err
		}
		var doc struct {
			Config    *ocispec.Descriptor  `json:"config"`
			Manifests []ocispec.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return "", err
		}
		if doc.Config != nil {
			return doc.Config.Digest.String(), nil
		}
		next := false
		for _, m := range doc.Manifests {
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
				d, next = m, true
				break
			}
		}
		if !next {
			return "", errors.New("no linux/amd64 image in the index")
		}
	}
	return "", errors.New("indexes nested too deep")
}

// normalize gives the full form of a reference, as ferry and containerd
// report names; a value that is not a reference is returned as it is.
func normalize(s string) string {
	r, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return r.String()
}

// familiar is docker's short form (busybox:1.36, acme/tool:2).
func familiar(s string) string {
	r, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarString(r)
}
