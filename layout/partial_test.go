package layout

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"
)

// TestPartialBytes: a partial file's name claims its verified bytes in
// the one form keepPartial writes; anything else is not a partial.
func TestPartialBytes(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "1048576": 1 << 20, "9223372036854775807": 1<<63 - 1} {
		if n, ok := partialBytes(s); !ok || n != want {
			t.Errorf("%q: %d %v, want %d", s, n, ok, want)
		}
	}
	for _, s := range []string{"", "0", "01", "-1", "+1", "1e6", "1 ", "9223372036854775808", "12345678901234567890", "1.5", "x"} {
		if n, ok := partialBytes(s); ok {
			t.Errorf("%q taken as %d bytes", s, n)
		}
	}
}

// TestNoRoomDropsPartial: a pull that failed on a full medium keeps no
// partial (it would hold the room the next try needs); a cut link or a
// Ctrl-C does.
func TestNoRoomDropsPartial(t *testing.T) {
	for _, err := range []error{fmt.Errorf("write: %w", syscall.ENOSPC), fmt.Errorf("write: %w", syscall.EDQUOT), fmt.Errorf("blob: %w", ErrTooLarge)} {
		if !noRoom(err) {
			t.Errorf("%v not taken for a full medium", err)
		}
	}
	for _, err := range []error{context.Canceled, io.ErrUnexpectedEOF, syscall.ECONNRESET} {
		if noRoom(err) {
			t.Errorf("%v taken for a full medium", err)
		}
	}
}
