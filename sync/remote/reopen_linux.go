package remote

import (
	"os"
	"strconv"
)

// reopen opens f's file again, through /proc so a rename or a new file
// under its name meanwhile cannot change what is opened: a description
// of its own, with an offset of its own.
func reopen(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd uintptr
	if err := rc.Control(func(u uintptr) { fd = u }); err != nil {
		return nil, err
	}
	return os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
}
