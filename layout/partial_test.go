package layout

import "testing"

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
