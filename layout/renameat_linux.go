package layout

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

var errNoRenameAt = errors.New("renameat not available")

// renameAt renames the single-component name from in directory fromDir to
// to in toDir, resolving neither through a path.
func renameAt(fromDir *os.File, from string, toDir *os.File, to string) error {
	err := syscall.Renameat(int(fromDir.Fd()), from, int(toDir.Fd()), to)
	runtime.KeepAlive(fromDir)
	runtime.KeepAlive(toDir)
	return err
}
