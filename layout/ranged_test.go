package layout

import "testing"

// TestPartBounds: parts cover the rest exactly, in order, none empty;
// a blob worth it ends in 2·conns smaller parts, a quarter then a
// sixteenth of the body's, and one too small for that is cut evenly.
func TestPartBounds(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		rest, size int64
		conns      int
		tail       bool
	}{
		{1<<30 - 5*mib, 32 * mib, 8, true},
		{512 * mib, 16 * mib, 8, true},
		{59 * mib, 16 * mib, 4, false},
		{300 * mib, 16 * mib, 8, false},
		{1<<30 + 12345, 33 * mib, 8, true},
	} {
		b := partBounds(c.rest, c.size, c.conns)
		if b[0] != 0 || b[len(b)-1] != c.rest {
			t.Fatalf("%+v: bounds %d..%d, want 0..%d", c, b[0], b[len(b)-1], c.rest)
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] {
				t.Fatalf("%+v: part %d is [%d, %d)", c, i-1, b[i-1], b[i])
			}
		}
		parts := len(b) - 1
		if !c.tail {
			if parts != int((c.rest+c.size-1)/c.size) {
				t.Fatalf("%+v: %d parts without a tail", c, parts)
			}
			continue
		}
		last := func(k int) int64 { return b[len(b)-k] - b[len(b)-k-1] } // k-th part from the end, 1-based
		for k := 1; k <= c.conns; k++ {
			if got := last(k); got != max(rangedTailMin, c.size/16) {
				t.Fatalf("%+v: part %d from the end is %d bytes", c, k, got)
			}
			if got := last(k + c.conns); got != max(rangedTailMin, c.size/4) {
				t.Fatalf("%+v: part %d from the end is %d bytes", c, k+c.conns, got)
			}
		}
		if body := b[1] - b[0]; body > c.size || body < c.size/2 {
			t.Fatalf("%+v: first part is %d bytes", c, body)
		}
	}
}
