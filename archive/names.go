package archive

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"

	"github.com/oci-ferry/ferry/layout"
)

// cleanName turns a tar entry name into the slash path ferry indexes it
// under, refusing anything that could mean a path outside the archive:
// absolute names, backslashes, ".." components (even ones that clean away,
// like blobs/sha256/../../x) and names that are not valid fs paths.
func cleanName(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("tar entry %q: %w: %s", raw, layout.ErrUnsafe, why)
	}
	if strings.Contains(raw, `\`) {
		return "", bad("backslash in name")
	}
	if strings.HasPrefix(raw, "/") {
		return "", bad("absolute path")
	}
	for _, c := range strings.Split(raw, "/") {
		if c == ".." {
			return "", bad("path traversal (..)")
		}
	}
	n := path.Clean(strings.TrimPrefix(raw, "./"))
	if n == "." {
		return ".", nil
	}
	if !validPath(n) {
		return "", bad("not a valid relative path")
	}
	return n, nil
}

func validPath(n string) bool {
	if n == "" || strings.HasPrefix(n, "/") {
		return false
	}
	for _, c := range strings.Split(n, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// kindOf classifies a tar header. Only regular files and directories are
// content; symlinks are recorded because docker-save archives use them for
// repeated layers, and are followed one level only when a manifest.json
// layer path names them. Everything else is refused.
func kindOf(h *tar.Header) (entryKind, error) {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //lint:ignore SA1019 old tars (pre-POSIX writers) still use '\x00' for regular files
		return kindFile, nil
	case tar.TypeDir:
		return kindDir, nil
	case tar.TypeSymlink:
		return kindSymlink, nil
	case tar.TypeXGlobalHeader:
		return kindSkip, nil
	case tar.TypeLink:
		return 0, fmt.Errorf("tar entry %q: %w: hard link to %q", h.Name, layout.ErrUnsafe, h.Linkname)
	default:
		return 0, fmt.Errorf("tar entry %q: %w: entry type %q is not a regular file or directory", h.Name, layout.ErrUnsafe, string(h.Typeflag))
	}
}

type entryKind int

const (
	kindFile entryKind = iota + 1
	kindDir
	kindSymlink
	kindSkip
)
