package layout

import (
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A pull killed outright (SIGKILL, a power cut, a laptop that died)
// cannot keep its partial the way a failing one does (keepPartial), so a
// large blob's staged file carries a marker beside it in the session's
// directory, renamed as the verified prefix grows:
// "v-<file>.<hex>.<bytes>", where b-<file> is the staged file, <hex> the
// blob's sha256 and <bytes> how many of its first bytes were hashed in
// order and written. The next pull or import that opens the layout finds
// the marker in the dead session and keeps that prefix as a partial
// (partialPath), which a pull of the blob then takes over, hashing it
// again first: the marker is a hint, never trusted.
const (
	markPrefix = "v-"
	markEvery  = 8 << 20 // a rename per 8 MiB hashed: nothing beside the hash
)

// prefixMark is the marker of one staged blob.
type prefixMark struct {
	d        *Dir
	dir, rnd string // the staged file's directory, and its name past "b-"
	hex      string
	name     string // the marker's current name in dir, "" before the first
	n        int64
}

// newMark is st's marker for desc, or nil where none can be kept (a
// staged file that is not a session's b- file, a digest not sha256).
func (d *Dir) newMark(st *Staged, desc ocispec.Descriptor) *prefixMark {
	name := st.Name()
	rnd, ok := strings.CutPrefix(path.Base(name), "b-")
	if !ok || !isTempName(path.Base(name), "b-") || ValidateDigest(desc.Digest) != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil
	}
	return &prefixMark{d: d, dir: path.Dir(name), rnd: rnd, hex: desc.Digest.Encoded()}
}

// at records that the first n bytes are verified, every markEvery bytes.
// A marker that cannot be written only loses the resume after a kill.
func (m *prefixMark) at(n int64) {
	if m == nil || n-m.n < markEvery {
		return
	}
	m.set(n)
}

// set records n at once: a resumed blob's kept prefix is marked before
// it is hashed again, or a kill during that hash would lose it.
func (m *prefixMark) set(n int64) {
	if m == nil || n < partialMin || n == m.n {
		return
	}
	next := markPrefix + m.rnd + "." + m.hex + "." + strconv.FormatInt(n, 10)
	if m.name == "" {
		f, err := m.d.root.OpenFile(path.Join(m.dir, next), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		f.Close()
	} else if m.d.root.Rename(path.Join(m.dir, m.name), path.Join(m.dir, next)) != nil {
		return
	}
	m.name, m.n = next, n
}

// drop removes the marker: the blob is committed, or kept by
// keepPartial, or given up.
func (m *prefixMark) drop() {
	if m != nil && m.name != "" {
		m.d.root.Remove(path.Join(m.dir, m.name))
		m.name = ""
	}
}

// keepMarked moves the staged files of a dead session's dir that carry
// a marker to partialPath, cut to the prefix the marker names, before the
// session's other files go; it returns how many bytes it kept. The caller
// holds the dead session's lock.
func (d *Dir) keepMarked(dir string) int64 {
	ents, err := fs.ReadDir(RootFS(d.root), dir)
	if err != nil {
		return 0
	}
	var kept int64
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), markPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		rnd, tail, ok1 := strings.Cut(rest, ".")
		hex, num, ok2 := strings.Cut(tail, ".")
		n, ok3 := partialBytes(num)
		staged := "b-" + rnd
		d.root.Remove(path.Join(dir, e.Name()))
		if !ok1 || !ok2 || !ok3 || n < partialMin || !isTempName(staged, "b-") || ValidateDigest(digest.NewDigestFromEncoded(digest.SHA256, hex)) != nil {
			continue
		}
		// Opened as a temp file is adopted: locked, a regular file with
		// no other name (truncating a hard link would cut someone's
		// file), the same file as at the name.
		from := path.Join(dir, staged)
		st, err := adopt(d.root, from)
		if err != nil {
			continue
		}
		ok = st.n >= n && st.Truncate(n) == nil
		st.f.Close()
		dg := digest.NewDigestFromEncoded(digest.SHA256, hex)
		for _, old := range d.partials(dg) {
			if old.n >= n {
				ok = false // one as long is kept already
			}
		}
		if !ok || d.root.MkdirAll(partialPath, 0o755) != nil {
			continue
		}
		if d.root.Rename(from, path.Join(partialPath, hex+"."+strconv.FormatInt(n, 10))) == nil {
			kept += n
			for _, old := range d.partials(dg) {
				if old.n < n {
					d.root.Remove(path.Join(partialPath, old.name))
				}
			}
		}
	}
	return kept
}
