package archive

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// umask is the process's file mode creation mask. An archive is a file the
// user asked for, so it gets the mode any of their tools would give it
// (0666 &^ umask), not the 0600 of the temp file it is written through.
// Linux reports the mask in /proc without changing it; syscall.Umask would
// have to set it to learn it, racing every file other goroutines create.
// Where /proc cannot say, 0077 keeps the archive private, as before.
func umask() os.FileMode {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o077
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m) & os.ModePerm
			}
		}
	}
	return 0o077
}
