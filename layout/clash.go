package layout

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// NameClash is a name that an input gives to more than one image.
type NameClash struct {
	Name    string
	Digests []digest.Digest // in the order the entries came
}

func (c NameClash) String() string {
	ds := make([]string, len(c.Digests))
	for i, d := range c.Digests {
		ds[i] = d.String()
	}
	return fmt.Sprintf("%s names %d different images: %s", c.Name, len(c.Digests), strings.Join(ds, ", "))
}

// NameClashes lists the names given to different digests. A layout
// records one image per name, and docker load keeps the last of such
// entries without a word, so which image a name means would depend on the
// tool: verify reports it and import refuses it, by this one function.
// Unnamed entries clash with nothing.
func NameClashes(images []Image) []NameClash {
	var out []NameClash
	at := map[string]int{}
	first := map[string]digest.Digest{}
	for _, im := range images {
		if im.Ref.Repo == "" && im.Ref.Tag == "" {
			continue
		}
		n := im.Name()
		d0, seen := first[n]
		if !seen {
			first[n] = im.Desc.Digest
			continue
		}
		if d0 == im.Desc.Digest {
			continue
		}
		i, ok := at[n]
		if !ok {
			i = len(out)
			at[n] = i
			out = append(out, NameClash{Name: n, Digests: []digest.Digest{d0}})
		}
		dup := false
		for _, d := range out[i].Digests {
			dup = dup || d == im.Desc.Digest
		}
		if !dup {
			out[i].Digests = append(out[i].Digests, im.Desc.Digest)
		}
	}
	return out
}
