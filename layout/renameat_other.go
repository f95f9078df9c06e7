//go:build !linux

package layout

import (
	"errors"
	"os"
)

var errNoRenameAt = errors.New("renameat not available")

// renameAt is Linux only; elsewhere the caller renames through the root.
func renameAt(*os.File, string, *os.File, string) error { return errNoRenameAt }
