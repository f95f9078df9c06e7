package archive

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrNotInPlace is a source that can be read only in one pass (a
// compressed archive or volume set, stdin, a pipe) opened for a command
// that reads blobs in any order (push, export, copy): OpenOptions.InPlace
// refuses it from its first bytes, before a pass over gigabytes that
// would end in the same refusal.
var ErrNotInPlace = errors.New("it can be read only in one pass, and this command reads blobs in any order")

// notInPlace says why path cannot be read in place, and what to do.
func notInPlace(path, why string) error {
	return fmt.Errorf("%s is %s: %w; `ferry import %s DIR` first (it streams it into a layout, with no extra copy) and use DIR, or decompress it: a plain .tar is read in place",
		path, why, ErrNotInPlace, path)
}

// setNotInPlace is notInPlace for a compressed volume set: decompressing
// means every volume, and the set is named again as its directory.
func setNotInPlace(vols []volumeFile) error {
	var comp []string
	for _, v := range vols {
		if v.comp != None {
			comp = append(comp, filepath.Base(v.path))
		}
	}
	dir := filepath.Dir(vols[0].path)
	return fmt.Errorf("%s: volume set %s of %d volumes is compressed (%s): %w; `ferry import %s DIR` first (it streams the set volume by volume into a layout, with no rejoin on disk) and use DIR, or decompress every volume beside the others (zstd -d, gunzip): a set of plain .tar volumes is read in place",
		dir, vols[0].idx.Set, vols[0].idx.Volumes, strings.Join(comp, ", "), ErrNotInPlace, dir)
}
