package archive

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"

	"github.com/oci-ferry/ferry/layout"
)

// Caps on an entry name, checked before any other work on it so that what
// a header costs is bounded by these and not by the archive. 4096 bytes is
// Linux's PATH_MAX, the most any extracting tool could create; the longest
// name an image tool writes is blobs/sha512/<128 hex> (3 levels, 140
// bytes) and docker-save's <64 hex>/layer.tar, so 256 levels refuses only
// names made to be expensive.
const (
	maxNameBytes = 4096
	maxNameDepth = 256
)

// cleanName turns a tar entry name into the slash path ferry indexes it
// under, refusing anything that could mean a path outside the archive:
// absolute names, backslashes, ".." components (even ones that clean away,
// like blobs/sha256/../../x) and names that are not valid fs paths. Every
// step is one pass over the name.
func cleanName(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("tar entry %q: %w: %s", raw, layout.ErrUnsafe, why)
	}
	if len(raw) > maxNameBytes {
		return "", fmt.Errorf("tar entry %.64q… (%d bytes): %w: name longer than %d bytes", raw, len(raw), layout.ErrUnsafe, maxNameBytes)
	}
	if n := strings.Count(strings.TrimSuffix(raw, "/"), "/") + 1; n > maxNameDepth {
		return "", fmt.Errorf("tar entry %.64q… (%d levels): %w: name deeper than %d levels", raw, n, layout.ErrUnsafe, maxNameDepth)
	}
	if strings.Contains(raw, `\`) {
		return "", bad("backslash in name")
	}
	if strings.HasPrefix(raw, "/") {
		return "", bad("absolute path")
	}
	for c := range strings.SplitSeq(raw, "/") {
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
	for c := range strings.SplitSeq(n, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// kindOf classifies a tar header. Only regular files and directories are
// content; symlinks are recorded because docker-save archives use them for
// repeated layers, and are accepted only where a manifest.json path names
// them (see refuseStrays). Everything else is refused.
func kindOf(h *tar.Header) (entryKind, error) {
	if err := refuseSparse(h); err != nil {
		return 0, err
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //lint:ignore SA1019 old tars (pre-POSIX writers) still use '\x00' for regular files
		return kindFile, nil
	case tar.TypeDir:
		return kindDir, nil
	case tar.TypeSymlink:
		if len(h.Linkname) > maxNameBytes {
			return 0, fmt.Errorf("tar entry %q: %w: link target longer than %d bytes", h.Name, layout.ErrUnsafe, maxNameBytes)
		}
		return kindSymlink, nil
	case tar.TypeXGlobalHeader:
		return kindSkip, nil
	case tar.TypeLink:
		return 0, fmt.Errorf("tar entry %q: %w: hard link to %q", h.Name, layout.ErrUnsafe, h.Linkname)
	default:
		return 0, fmt.Errorf("tar entry %q: %w: entry type %q is not a regular file or directory", h.Name, layout.ErrUnsafe, string(h.Typeflag))
	}
}

// refuseSparse refuses GNU sparse entries, old ('S') and PAX (0.x, 1.0).
// archive/tar expands them when the entry is read as a stream, while the
// in-place reader serves the stored bytes, so the one archive would hash
// differently as .tar and as .tar.gz. No image tool writes sparse entries,
// so refusing them loses nothing and leaves one reading.
func refuseSparse(h *tar.Header) error {
	why := ""
	if h.Typeflag == tar.TypeGNUSparse {
		why = "old GNU sparse entry (type 'S')"
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			why = "GNU sparse entry (" + k + " in its PAX header)"
			break
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("tar entry %q: %w: %s; no image tool writes sparse files and tar readers disagree on their bytes, so ferry refuses them: re-create the archive without --sparse", h.Name, layout.ErrUnsafe, why)
}

type entryKind int

const (
	kindFile entryKind = iota + 1
	kindDir
	kindSymlink
	kindSkip
)

// String names a kind in messages.
func (k entryKind) String() string {
	switch k {
	case kindFile:
		return "a file"
	case kindDir:
		return "a directory"
	case kindSymlink:
		return "a symbolic link"
	}
	return "a skipped header"
}
