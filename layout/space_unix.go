//go:build unix

package layout

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoSpace means the destination cannot hold what is about to be
// written; ferry checks before it starts, not after gigabytes.
var ErrNoSpace = errors.New("not enough free space")

// CheckSpace fails early when the file system holding dir has less than
// need bytes free for an unprivileged writer. It is advisory: a file
// system that cannot say is not an error.
func CheckSpace(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < need {
		return fmt.Errorf("%s: %w: this needs %d bytes, %d are free", dir, ErrNoSpace, need, free)
	}
	return nil
}
