package layout

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Ref is an image reference normalized the way docker normalizes it, so that
// "busybox", "library/busybox" and "docker.io/library/busybox:latest" are one
// name everywhere in ferry and in the archives it writes.
type Ref struct {
	Repo   string        // e.g. docker.io/library/busybox; "" when unknown
	Tag    string        // "" when the image is kept by digest only
	Digest digest.Digest // set when the reference pins a digest
}

// ParseRef parses docker's grammar name[:tag][@digest]. A reference with
// neither tag nor digest means :latest, as in docker pull.
func ParseRef(s string) (Ref, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(s))
	if err != nil {
		return Ref{}, fmt.Errorf("%q is not an image reference (expected name[:tag][@digest], e.g. busybox:1.36): %w", s, err)
	}
	r := Ref{Repo: named.Name()}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest()
		if err := ValidateDigest(r.Digest); err != nil {
			return Ref{}, err
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// String is the full normalized form: repo:tag, repo@digest or
// repo:tag@digest. It is what ferry stores in io.containerd.image.name.
func (r Ref) String() string {
	s := r.Repo
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// Familiar is the short form docker prints and docker load expects in
// RepoTags (busybox:1.36, ghcr.io/o/r:v1).
func (r Ref) Familiar() string {
	named, err := reference.ParseNormalizedNamed(r.Repo)
	if err != nil {
		return r.String()
	}
	s := reference.FamiliarName(named)
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// refNameRe is the grammar image-spec gives org.opencontainers.image.ref.name.
var refNameRe = regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)

// ValidRefName reports whether s fits the ref.name annotation grammar; some
// valid tags (such as "_x") do not.
func ValidRefName(s string) bool { return refNameRe.MatchString(s) }
