package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
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
// in-place and streamed readers so both present the same fs.FS.
type tree struct {
	label   string
	entries map[string]*entry
	dirs    map[string]map[string]bool
}

func newTree(label string) tree {
	return tree{label: label, entries: map[string]*entry{}, dirs: map[string]map[string]bool{".": {}}}
}

// add records e. A repeated name is accepted only if same says the two
// entries carry identical content: extraction semantics (last wins) and
// validation (first wins) must never be able to disagree.
func (t *tree) add(e *entry, same func(a, b *entry) (bool, error)) error {
	if old, ok := t.entries[e.name]; ok {
		if old.kind == kindDir && e.kind == kindDir {
			return nil
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
	t.entries[e.name] = e
	for p := e.name; p != "."; {
		dir := path.Dir(p)
		if t.dirs[dir] == nil {
			t.dirs[dir] = map[string]bool{}
		}
		t.dirs[dir][path.Base(p)] = true
		if _, ok := t.entries[dir]; !ok && dir != "." {
			t.entries[dir] = &entry{name: dir, kind: kindDir}
		}
		p = dir
	}
	if e.kind == kindDir && t.dirs[e.name] == nil {
		t.dirs[e.name] = map[string]bool{}
	}
	return nil
}

func (t *tree) lookup(op, name string) (*entry, error) {
	if name == "." {
		return &entry{name: ".", kind: kindDir}, nil
	}
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, ok := t.entries[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

// openCheck is the part of Open both readers share: directories open as
// directories, symlinks are never followed implicitly.
func (t *tree) openCheck(name string) (*entry, fs.File, error) {
	e, err := t.lookup("open", name)
	if err != nil {
		return nil, nil, err
	}
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
	e, err := t.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return entryInfo{e}, nil
}

// ReadLink implements fs.ReadLinkFS.
func (t *tree) ReadLink(name string) (string, error) {
	e, err := t.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if e.kind != kindSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symbolic link")}
	}
	return e.link, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *tree) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e.kind != kindDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, 0, len(t.dirs[name]))
	for child := range t.dirs[name] {
		out = append(out, fs.FileInfoToDirEntry(entryInfo{t.entries[path.Join(name, child)]}))
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
