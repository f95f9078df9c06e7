package layout

import (
	"io/fs"
	"os"
	"path"
	"strings"
)

// Leftover is what a killed ferry left behind: a staging area of a layout
// or a temp file beside an archive, with the bytes it holds.
type Leftover struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Leftovers lists what killed runs left in the layout at dir, without
// removing anything or opening anything for writing (verify runs on
// read-only media): staging areas whose lock is free, temp files no live
// writer holds, and the partial blobs failed pulls kept. gc and the next
// import or pull remove the first two; a pull of the same blob takes a
// partial over, gc removes it.
func Leftovers(dir string) ([]Leftover, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	d := &Dir{root: root, path: dir}
	var out []Leftover
	for _, s := range d.sessions() {
		if !s.alive {
			out = append(out, Leftover{Path: s.dir, Size: treeSize(root, s.dir)})
		}
	}
	out = append(out, partialLeftovers(d, false)...)
	return append(out, StaleTemps(root, stagePath, "f-", false)...), nil
}

// StaleTemps lists the temp files a Staged with this prefix left in dir
// under root whose writer is gone (the flock every Staged holds is free),
// and removes them if remove is set. Only names of the exact shape Stage
// makes are considered, so nobody else's file is touched.
func StaleTemps(root *os.Root, dir, prefix string, remove bool) []Leftover {
	ents, err := fs.ReadDir(RootFS(root), dir)
	if err != nil {
		return nil
	}
	var out []Leftover
	for _, e := range ents {
		if !isTempName(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		name := path.Join(dir, e.Name())
		l, gone, err := probe(root, name)
		if gone || err != nil {
			continue // removed meanwhile, or its writer is alive
		}
		fi, err := root.Lstat(name)
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, Leftover{Path: name, Size: fi.Size()})
			if remove {
				root.Remove(name)
			}
		}
		l.unlock()
	}
	return out
}

// isTempName reports whether name is prefix followed by what randomName
// appends: 16 lower-case hex digits.
func isTempName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) != 16 {
		return false
	}
	for _, c := range rest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// treeSize is the bytes of regular files under dir.
func treeSize(root *os.Root, dir string) int64 {
	var n int64
	fs.WalkDir(RootFS(root), dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
