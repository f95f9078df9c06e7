package layout

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to begin writing a file's range to disk
// now, without waiting. Blobs are fsynced before they are renamed into
// place; starting writeback as data arrives makes that fsync short and
// keeps the disk busy while the network is, instead of after it.
func startWriteback(f *os.File, off, n int64) {
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}
