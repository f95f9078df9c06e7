//go:build !unix

package layout

import "errors"

// ErrNoSpace means the destination cannot hold what is about to be written.
var ErrNoSpace = errors.New("not enough free space")

// CheckSpace is advisory and cannot measure free space here.
func CheckSpace(string, int64) error { return nil }

// FreeSpace cannot measure free space here.
func FreeSpace(string) (int64, bool) { return 0, false }
