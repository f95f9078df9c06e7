package archive

import (
	"context"
	"fmt"
	"io"
	"os"
)

// cancellable reads r on a goroutine of its own and hands the bytes over
// through a pipe, so a cancel ends the reader's Read at once even while r
// is blocked in read(2): stdin and FIFOs cannot be interrupted or given a
// deadline, and a stalled producer would otherwise keep ferry past
// SIGINT/SIGTERM until it went away. stop ends the hand-over; the reading
// goroutine returns with r's next Read (at exit, if r never answers).
func cancellable(ctx context.Context, r io.Reader) (_ io.Reader, stop func()) {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	unhook := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	return pr, func() {
		unhook()
		pr.Close()
	}
}

// openCancellable opens path as os.Open does, but a FIFO's open, which
// blocks until a writer comes, ends with ctx: an archive named by a FIFO
// whose producer never starts must not keep ferry past SIGINT/SIGTERM.
// A regular file's open does not block and is made directly.
func openCancellable(ctx context.Context, path string, fi os.FileInfo) (*os.File, error) {
	if fi.Mode().IsRegular() {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		// The open may still succeed; whoever gets it closes it.
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("%s: waiting for a writer: %w", path, ctx.Err())
	}
}
