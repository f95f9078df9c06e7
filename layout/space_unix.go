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
	free, ok := FreeSpace(dir)
	if ok && free < need {
		return fmt.Errorf("%s: %w: this needs %d bytes, %d are free", dir, ErrNoSpace, need, free)
	}
	return nil
}

// FreeSpace is the bytes an unprivileged writer may still write to the
// file system holding dir; ok is false when it cannot say. A file system
// reporting no blocks at all is not full but mute: fusefat says 0 of 0
// on FAT32 with 512-byte clusters, and refusing on that would refuse
// every stick it mounts.
func FreeSpace(dir string) (free int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
