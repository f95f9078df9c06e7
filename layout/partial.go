package layout

import (
	"errors"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// partialPath holds the large blobs pulls were fetching when they failed
// (a link that dropped for good, a Ctrl-C), each named by its digest and
// how many of its first bytes had been verified in order:
// "<hex>.<bytes>". The next pull of the same blob into the layout takes
// the file over and fetches only the rest: what a 20 GB pull over a
// hotel link needs, where starting a large layer over again loses the
// most. The bytes kept are hashed again as the blob's first (nothing of
// a dead run is trusted), so a file changed or cut short meanwhile only
// costs the fetch it tried to save. gc removes what is left.
const partialPath = ".ferry/partial"

// partialMin is the least worth keeping: below it, fetching again costs
// less than the files and the note.
const partialMin = 1 << 20

// Resumed is a blob a pull completed from what an interrupted one kept.
type Resumed struct {
	Desc ocispec.Descriptor
	From int64 // bytes kept and verified again, not fetched
}

// Resumed lists the blobs this handle completed from kept partial files.
func (d *Dir) Resumed() []Resumed {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Resumed(nil), d.resumed...)
}

// keepPartial moves st, whose first n bytes were verified in order, to
// partialPath for a later pull of desc, and reports whether it did. What
// lies past n (ranges written ahead of the hash) is cut off: only the
// verified prefix is kept, made durable first so a crash after the
// rename cannot leave a name that claims more than the file holds.
func (d *Dir) keepPartial(st *Staged, desc ocispec.Descriptor, n int64) bool {
	if n < partialMin || n >= desc.Size || ValidateDigest(desc.Digest) != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return false
	}
	if st.f.Truncate(n) != nil {
		return false
	}
	name := st.Name()
	if st.Keep() != nil {
		return false
	}
	if d.root.MkdirAll(partialPath, 0o755) != nil {
		d.root.Remove(name)
		return false
	}
	for _, old := range d.partials(desc.Digest) {
		d.root.Remove(path.Join(partialPath, old.name))
	}
	if d.root.Rename(name, path.Join(partialPath, desc.Digest.Encoded()+"."+strconv.FormatInt(n, 10))) != nil {
		d.root.Remove(name)
		return false
	}
	return true
}

// takePartial claims the kept partial of desc, if there is one: renamed
// into this session under a temp name (a rename has one winner, so two
// pulls never both take it), opened and locked as a Staged holding its
// first n bytes.
func (d *Dir) takePartial(desc ocispec.Descriptor) (*Staged, int64, bool) {
	if ValidateDigest(desc.Digest) != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil, 0, false
	}
	for _, p := range d.partials(desc.Digest) {
		if p.n >= desc.Size {
			continue
		}
		sess, err := d.session()
		if err != nil {
			return nil, 0, false
		}
		to := path.Join(sess, randomName("b-"))
		if d.root.Rename(path.Join(partialPath, p.name), to) != nil {
			continue // another pull took it
		}
		st, err := adopt(d.root, to)
		if err != nil {
			d.root.Remove(to)
			continue
		}
		if st.n < p.n || st.Truncate(p.n) != nil {
			st.Abort()
			continue
		}
		return st, p.n, true
	}
	return nil, 0, false
}

type partialFile struct {
	name string
	n    int64
}

// partials lists the kept partial files of dg (sha256, the only kind
// kept): one as a rule, two if a crash came between keepPartial's rename
// and its removal of the older one.
func (d *Dir) partials(dg digest.Digest) []partialFile {
	ents, err := fs.ReadDir(RootFS(d.root), partialPath)
	if err != nil {
		return nil
	}
	var out []partialFile
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), dg.Encoded()+".")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if n, ok := partialBytes(rest); ok {
			out = append(out, partialFile{name: e.Name(), n: n})
		}
	}
	return out
}

// partialBytes reads the byte count of a partial file's name: plain
// decimal digits, no sign, no leading zero, as keepPartial writes it.
func partialBytes(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// partialLeftovers lists the kept partial files, and removes them if
// remove is set (gc): each is named as keepPartial names them, and is
// renamed away by a pull before it is written to, so removing one a pull
// is about to take only makes that pull fetch the blob whole.
func partialLeftovers(d *Dir, remove bool) []Leftover {
	ents, err := fs.ReadDir(RootFS(d.root), partialPath)
	if err != nil {
		return nil
	}
	var out []Leftover
	for _, e := range ents {
		hexPart, num, ok := strings.Cut(e.Name(), ".")
		if !ok || !e.Type().IsRegular() || ValidateDigest(digest.NewDigestFromEncoded(digest.SHA256, hexPart)) != nil {
			continue
		}
		if _, ok := partialBytes(num); !ok {
			continue
		}
		name := path.Join(partialPath, e.Name())
		fi, err := d.root.Lstat(name)
		if err != nil {
			continue
		}
		out = append(out, Leftover{Path: name, Size: fi.Size()})
		if remove {
			if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
	}
	return out
}
