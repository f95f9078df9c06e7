package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/oci-ferry/ferry/layout"
)

// entry is one tar member as ferry indexed it. A tar read in place fills
// off and size; a streamed tar fills the digest fields and either keeps the
// bytes (data) or the staged file (staged).
type entry struct {
	name string
	kind entryKind
	size int64
	link string

	off int64 // in-place tar: where the data starts

	digest digest.Digest // streamed: digest of the bytes as they passed
	diffID digest.Digest // streamed: digest after decompression, for docker layers
	comp   Compression   // streamed: compression seen in the entry's first bytes
	data   []byte        // streamed: retained small JSON
	staged string        // streamed into a layout transaction: the temp file
	err    error         // streamed: the entry failed its check
}

// tree is the directory structure of a tar's entries, shared by the
// in-place and streamed readers so both present the same fs.FS. It is a
// trie of path components: adding or finding a name is one pass over it,
// where a map of every parent directory's full path would hash each prefix
// again (quadratic in the depth of a hostile name).
type tree struct {
	label string
	root  *node
}

type node struct {
	e    *entry
	kids map[string]*node // nil unless e is a directory
}

func newTree(label string) tree {
	return tree{label: label, root: &node{e: &entry{name: ".", kind: kindDir}, kids: map[string]*node{}}}
}

// add records e. A repeated name is accepted only if same says the two
// entries carry identical content: extraction semantics (last wins) and
// validation (first wins) must never be able to disagree. An entry below
// a file or a link is refused: an extractor would write it through the
// link, outside the place it seems to be.
func (t *tree) add(e *entry, same func(a, b *entry) (bool, error)) error {
	n, name := t.root, e.name
	for i := 0; ; {
		end := len(name)
		if j := strings.IndexByte(name[i:], '/'); j >= 0 {
			end = i + j
		}
		comp := name[i:end]
		child := n.kids[comp]
		if end == len(name) {
			if child == nil {
				child = &node{e: e}
				if e.kind == kindDir {
					child.kids = map[string]*node{}
				}
				n.kids[comp] = child
				return nil
			}
			return t.again(child.e, e, same)
		}
		if child == nil {
			child = &node{e: &entry{name: name[:end], kind: kindDir}, kids: map[string]*node{}}
			n.kids[comp] = child
		} else if child.e.kind != kindDir {
			return fmt.Errorf("%s: %w: entry %q lies under %q, which is %s, not a directory", t.label, layout.ErrUnsafe, e.name, child.e.name, child.e.kind)
		}
		n, i = child, end+1
	}
}

// again decides on a name seen twice.
func (t *tree) again(old, e *entry, same func(a, b *entry) (bool, error)) error {
	if old.kind == kindDir && e.kind == kindDir {
		return nil
	}
	if old.kind == kindDir {
		return fmt.Errorf("%s: %w: entry %q is %s, not a directory, but earlier entries lie under it", t.label, layout.ErrUnsafe, e.name, e.kind)
	}
	ok := old.kind == e.kind && old.size == e.size && old.link == e.link
	if ok && e.kind == kindFile {
		var err error
		if ok, err = same(old, e); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("%s: %w: duplicate entry %q with different content", t.label, layout.ErrUnsafe, e.name)
	}
	return nil
}

// find returns the node of a clean name, or nil.
func (t *tree) find(name string) *node {
	n := t.root
	if name == "." {
		return n
	}
	for comp := range strings.SplitSeq(name, "/") {
		if n = n.kids[comp]; n == nil {
			return nil
		}
	}
	return n
}

// entry returns the entry of a clean name, or nil.
func (t *tree) entry(name string) *entry {
	if n := t.find(name); n != nil {
		return n.e
	}
	return nil
}

// links lists the symbolic links, for refuseStrays.
func (t *tree) links() []*entry {
	var out []*entry
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.kids {
			if c.e.kind == kindSymlink {
				out = append(out, c.e)
			}
			walk(c)
		}
	}
	walk(t.root)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (t *tree) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := t.find(name)
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// openCheck is the part of Open both readers share: directories open as
// directories, symlinks are never followed implicitly.
func (t *tree) openCheck(name string) (*entry, fs.File, error) {
	n, err := t.lookup("open", name)
	if err != nil {
		return nil, nil, err
	}
	e := n.e
	switch e.kind {
	case kindDir:
		return e, &dirFile{e: e}, nil
	case kindSymlink:
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: symbolic link to %q", layout.ErrUnsafe, e.link)}
	}
	return e, nil, nil
}

// Lstat implements fs.ReadLinkFS.
func (t *tree) Lstat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return entryInfo{n.e}, nil
}

// ReadLink implements fs.ReadLinkFS.
func (t *tree) ReadLink(name string) (string, error) {
	n, err := t.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	e := n.e
	if e.kind != kindSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symbolic link")}
	}
	return e.link, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *tree) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.e.kind != kindDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, 0, len(n.kids))
	for _, c := range n.kids {
		out = append(out, fs.FileInfoToDirEntry(entryInfo{c.e}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type entryInfo struct{ e *entry }

func (i entryInfo) Name() string       { return path.Base(i.e.name) }
func (i entryInfo) Size() int64        { return i.e.size }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return i.e.kind == kindDir }
func (i entryInfo) Sys() any           { return nil }
func (i entryInfo) Mode() fs.FileMode {
	switch i.e.kind {
	case kindDir:
		return fs.ModeDir | 0o755
	case kindSymlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o644
}

type dirFile struct{ e *entry }

func (d *dirFile) Stat() (fs.FileInfo, error) { return entryInfo{d.e}, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.e.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }
