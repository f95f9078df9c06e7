package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/oci-ferry/ferry/layout"
)

// refuseStrays is the one rule for what an input may hold besides the
// documents and blobs it is read for. It runs when any input is opened, so
// verify, import, ls, export and push refuse the same inputs: no command
// can accept junk that another calls hostile.
//
//   - Under blobs/ there are only regular files named blobs/<alg>/<hex>
//     for a digest ferry can check: a link, a directory or a misnamed file
//     there is what an extractor would write through or a reader misread.
//   - A tar holds no symbolic link, except in a docker-save archive
//     (manifest.json present) outside blobs/, pointing one level and inside
//     the archive at a regular file: docker ≤24 and podman write exactly
//     those for repeated layers, and nothing else writes links.
func refuseStrays(ctx context.Context, s *layout.FS) error {
	if l, ok := s.Sys().(interface{ links() []*entry }); ok {
		_, err := fs.Lstat(s.Sys(), dockerManifestFile)
		docker := err == nil
		for _, e := range l.links() {
			if err := dockerLink(s.Sys(), e, docker); err != nil {
				return fmt.Errorf("%s: tar entry %q: %w: symbolic link to %q: %v", s.Label(), e.name, layout.ErrUnsafe, e.link, err)
			}
		}
	}
	// A directory layout's blobs/ is read through a link like any
	// directory; refused here, as a link below it is.
	if fi, err := fs.Lstat(s.Sys(), "blobs"); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: entry \"blobs\" is a symbolic link: %w: links are refused under blobs/, blobs/ itself included", s.Label(), layout.ErrUnsafe)
	}
	blobs, err := s.Blobs(ctx)
	if err != nil {
		return fmt.Errorf("%s: listing blobs: %w", s.Label(), err)
	}
	for _, b := range blobs {
		// A blob removed since the listing (gc on a layout directory) is
		// gone, not junk; whatever needed it will say it is missing.
		if b.Err != nil && !errors.Is(b.Err, fs.ErrNotExist) {
			return fmt.Errorf("%s: entry %q is not a blob: %w (only files named blobs/<algorithm>/<digest> belong under blobs/)", s.Label(), b.Path, b.Err)
		}
	}
	return nil
}

// dockerLink says why e is not a link docker or podman would write.
func dockerLink(fsys fs.FS, e *entry, docker bool) error {
	switch {
	case !docker:
		return errors.New("links are refused anywhere in an OCI layout")
	case e.name == "blobs" || strings.HasPrefix(e.name, "blobs/"):
		return errors.New("links are refused under blobs/")
	}
	if _, err := resolveMember(fsys, e.name); err != nil {
		return fmt.Errorf("a docker-save archive may link only to a regular file inside it, one level: %w", err)
	}
	return nil
}
