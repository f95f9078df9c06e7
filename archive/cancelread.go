package archive

import (
	"context"
	"io"
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
