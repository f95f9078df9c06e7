package layout

import (
	"io"
	"sync"
)

// copyBufSize is large enough that hashing, not system calls, bounds the
// speed of a copy (io.Copy's 32 KiB costs about a third of SHA-NI speed),
// and small enough that a few concurrent copies stay far below the memory
// budget.
const copyBufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// CopyBuffer copies src to dst through a pooled 1 MiB buffer. Unlike
// io.Copy it never hands the copy to dst.ReadFrom or src.WriteTo, whose
// small internal buffers would halve throughput on large blobs.
func CopyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var written int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			written += int64(nw)
			if werr != nil {
				return written, werr
			}
			if nw != nr {
				return written, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}
