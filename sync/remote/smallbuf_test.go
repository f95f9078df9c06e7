package remote

import "testing"

// A small blob borrows the least power of two that holds it, from 64 KiB
// to smallBlob, and gets back the buffer it returned.
func TestSmallBufClasses(t *testing.T) {
	if smallMin<<(smallClasses-1) != smallBlob {
		t.Fatalf("classes end at %d, smallBlob is %d", smallMin<<(smallClasses-1), smallBlob)
	}
	for _, c := range []struct{ n, want int64 }{
		{0, 64 << 10}, {1, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10},
		{1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}, {smallBlob, smallBlob},
	} {
		bp, put := smallBuf(c.n)
		if int64(len(*bp)) != c.want {
			t.Errorf("smallBuf(%d) is %d bytes, want %d", c.n, len(*bp), c.want)
		}
		put()
	}
}
