package layout

import (
	"io"
	"os"
)

// Writeback writes to a file and starts the kernel's writeback every few
// megabytes, so the fsync that commits the file finds little left to do
// and the disk works while the network does.
type Writeback struct {
	f            *os.File
	done, queued int64
}

// NewWriteback wraps f, which the caller still syncs and closes.
func NewWriteback(f *os.File) io.Writer { return &Writeback{f: f} }

const writebackEvery = 8 << 20

func (w *Writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.done += int64(n)
	if w.done-w.queued >= writebackEvery {
		startWriteback(w.f, w.queued, w.done-w.queued)
		w.queued = w.done
	}
	return n, err
}
