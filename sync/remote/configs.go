package remote

import (
	"github.com/opencontainers/go-digest"
)

// MaxKeptConfigBytes bounds the config bytes Sources keeps (KeepConfig).
// A pull reads each single image's config once to report its platform,
// and the copy needs it again: with a thousand small images that was a
// thousand extra round trips in a pull of four requests an image
// (bench/scale.sh). Typical configs are a few KiB, so 4 MiB keeps
// hundreds of them; past it a config is simply fetched again, so memory
// stays bounded however many images a pull names.
const MaxKeptConfigBytes = 4 << 20

// KeepConfig records a config's verified bytes so that Fetch serves them
// without a request, within MaxKeptConfigBytes in all, and reports
// whether it kept them. The caller must have checked b against d.
func (r *Sources) KeepConfig(d digest.Digest, b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.docs[d]; ok {
		return true
	}
	if r.kept+int64(len(b)) > MaxKeptConfigBytes {
		return false
	}
	r.kept += int64(len(b))
	r.docs[d] = b
	return true
}
