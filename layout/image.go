package layout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AnnotationImageName is containerd's annotation for the full image name. It
// is the one every engine reads, so ferry writes it on every index entry.
const AnnotationImageName = "io.containerd.image.name"

// How an entry's name was understood, reported by ls and verify so users can
// see why an image from another tool got the name it did.
const (
	NameFromContainerd = "io.containerd.image.name"
	NameFromRefFull    = "org.opencontainers.image.ref.name (full reference)"
	NameFromRefTag     = "org.opencontainers.image.ref.name (tag only, no repository)"
	NameFromRepoTags   = "manifest.json RepoTags"
	NameFromNone       = "none (unnamed entry)"
)

// Image is one entry of a layout's index.json, with the name ferry
// understood from its annotations.
type Image struct {
	Ref      Ref
	Desc     ocispec.Descriptor
	NameFrom string
	// Note explains a name that could not be used as written.
	Note string
}

// Name is what ferry prints for the image.
func (im Image) Name() string {
	switch {
	case im.Ref.Repo != "":
		return im.Ref.String()
	case im.Ref.Tag != "":
		return ":" + im.Ref.Tag
	default:
		return "@" + im.Desc.Digest.String()
	}
}

// InterpretEntry reads the name of an index.json entry the way the tools
// that wrote it meant it: containerd's full name first, then ref.name as a
// full reference (podman, hauler, crane --annotate-ref), then ref.name as a
// bare tag (oras, regctl, containerd), then no name at all.
func InterpretEntry(d ocispec.Descriptor) Image {
	im := Image{Desc: d, NameFrom: NameFromNone}
	var notes []string
	if v, ok := d.Annotations[AnnotationImageName]; ok {
		if r, err := ParseRef(v); err == nil {
			im.Ref, im.NameFrom = r, NameFromContainerd
			return im
		}
		notes = append(notes, fmt.Sprintf("ignored %s=%q: not a valid reference", AnnotationImageName, v))
	}
	if v, ok := d.Annotations[ocispec.AnnotationRefName]; ok && v != "" {
		if strings.ContainsAny(v, "/:@") {
			if r, err := ParseRef(v); err == nil {
				im.Ref, im.NameFrom = r, NameFromRefFull
			} else {
				notes = append(notes, fmt.Sprintf("ignored %s=%q: not a valid reference", ocispec.AnnotationRefName, v))
			}
		} else {
			im.Ref, im.NameFrom = Ref{Tag: v}, NameFromRefTag
		}
	}
	im.Note = strings.Join(notes, "; ")
	return im
}

// Annotate sets the name annotations ferry writes: the full normalized
// reference for containerd, docker and podman, and the tag alone in ref.name
// for skopeo, oras and regctl. An image kept by digest only carries its
// repo@digest in both, as containerd does.
func Annotate(d ocispec.Descriptor, r Ref) ocispec.Descriptor {
	ann := make(map[string]string, len(d.Annotations)+2)
	for k, v := range d.Annotations {
		ann[k] = v
	}
	delete(ann, ocispec.AnnotationRefName)
	delete(ann, AnnotationImageName)
	switch {
	case r.Repo == "" && r.Tag != "":
		ann[ocispec.AnnotationRefName] = r.Tag
	case r.Repo == "":
	case r.Tag != "":
		ann[AnnotationImageName] = Ref{Repo: r.Repo, Tag: r.Tag}.String()
		if ValidRefName(r.Tag) {
			ann[ocispec.AnnotationRefName] = r.Tag
		}
	default:
		name := Ref{Repo: r.Repo, Digest: d.Digest}.String()
		ann[AnnotationImageName] = name
		ann[ocispec.AnnotationRefName] = name
	}
	d.Annotations = ann
	if len(ann) == 0 {
		d.Annotations = nil
	}
	return d
}

// Match finds the images a user's reference names, following FORMATS.md:
// an exact ref.name match, then the normalized full name, then a bare-tag
// entry whose repository the user supplies. name:tag@digest pins the digest.
// A digest (@sha256:… or sha256:…) selects by digest, which is how an
// unnamed image is named. Several matches with different digests are an
// error, never a guess.
func Match(images []Image, query string) ([]Image, error) {
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("empty image name: %w", ErrNotFound)
	}
	var exact []Image
	for _, im := range images {
		if v, ok := im.Desc.Annotations[ocispec.AnnotationRefName]; ok && v == query {
			exact = append(exact, im)
		}
	}
	if len(exact) > 0 {
		return exact, ambiguity(query, exact)
	}
	// @sha256:… (as ls shows an unnamed image) or a bare digest: the
	// image with that digest, whatever its names.
	if d := digest.Digest(strings.TrimPrefix(query, "@")); ValidateDigest(d) == nil {
		var byDigest []Image
		for _, im := range images {
			if im.Desc.Digest == d {
				byDigest = append(byDigest, im)
			}
		}
		if len(byDigest) == 0 {
			return nil, fmt.Errorf("no image with digest %s: %w", d, ErrNotFound)
		}
		return byDigest, nil
	}
	q, err := ParseRef(query)
	if err != nil {
		return nil, err
	}
	var full, tagOnly []Image
	for _, im := range images {
		if q.Digest != "" && im.Desc.Digest != q.Digest {
			continue
		}
		switch {
		case im.Ref.Repo == q.Repo && (q.Tag == "" || im.Ref.Tag == q.Tag || (q.Digest != "" && im.Ref.Tag == "")):
			full = append(full, im)
		case im.Ref.Repo == "" && q.Tag != "" && im.Ref.Tag == q.Tag:
			tagOnly = append(tagOnly, im)
		}
	}
	if q.Digest != "" && q.Tag != "" && len(full) == 0 && len(tagOnly) == 0 {
		// name:tag@digest where the tag has moved on: the digest wins.
		for _, im := range images {
			if im.Ref.Repo == q.Repo && im.Desc.Digest == q.Digest {
				full = append(full, im)
			}
		}
	}
	if len(full) > 0 {
		return full, ambiguity(query, full)
	}
	if len(tagOnly) > 0 {
		return tagOnly, ambiguity(query, tagOnly)
	}
	return nil, fmt.Errorf("no image named %q (normalized: %s): %w", query, q, ErrNotFound)
}

func ambiguity(query string, ims []Image) error {
	for _, im := range ims[1:] {
		if im.Desc.Digest != ims[0].Desc.Digest {
			return fmt.Errorf("%q matches %s (%s) and %s (%s): %w; give the full name or name@digest",
				query, ims[0].Name(), ims[0].Desc.Digest, im.Name(), im.Desc.Digest, ErrAmbiguous)
		}
	}
	return nil
}

// SortImages orders entries by name, then digest, so index.json and every
// listing come out the same whatever order images arrived in.
func SortImages(ims []Image) {
	sort.SliceStable(ims, func(i, j int) bool {
		if a, b := ims[i].Name(), ims[j].Name(); a != b {
			return a < b
		}
		return ims[i].Desc.Digest < ims[j].Desc.Digest
	})
}
