package layout

import (
	"testing"
	"time"
)

// link is a fake throughput source: rate(streams) bytes per second, fed
// to the controller one window at a time on a fake clock.
type link struct {
	a     *Adaptive
	now   time.Time
	total int64
}

// run feeds windows of one second at the rate the current limit gets and
// returns the limits decided after each.
func (l *link) run(windows int, rate func(streams int) int64) []int {
	var out []int
	for range windows {
		lim := l.a.Limit()
		l.a.Sample(l.now, l.total, lim) // the window's start
		for q := 1; q <= 4; q++ {
			l.now = l.now.Add(l.a.Window / 4)
			l.total += rate(lim) / 4
			l.a.Sample(l.now, l.total, lim)
		}
		out = append(out, l.a.Limit())
	}
	return out
}

func newLink() *link {
	return &link{a: NewAdaptive(), now: time.Unix(1e9, 0)}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAdaptiveClimbsOnCappedStreams: each stream capped (a long round
// trip, a per-connection limit) and the link wide: every added stream
// pays, so the limit climbs to the cap and holds there.
func TestAdaptiveClimbsOnCappedStreams(t *testing.T) {
	l := newLink()
	got := l.run(6, func(s int) int64 { return int64(s) * 3 << 20 })
	if want := []int{8, 16, 16, 16, 16, 16}; !equal(got, want) {
		t.Fatalf("limits %v, want %v", got, want)
	}
}

// TestAdaptiveStopsAtSaturation: the link carries 20 MiB/s however many
// streams share it, 4 already fill it: the probe to 8 brings nothing and
// the limit goes back to 4, holds, then probes once more.
func TestAdaptiveStopsAtSaturation(t *testing.T) {
	l := newLink()
	got := l.run(14, func(s int) int64 { return min(int64(s)*6<<20, 20<<20) })
	want := []int{8, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 4}
	if !equal(got, want) {
		t.Fatalf("limits %v, want %v", got, want)
	}
}

// TestAdaptivePartialGain: a link that saturates at 10 streams' worth:
// the climb keeps 8 (the step to 8 brought 4 streams' worth of 4), and
// drops back from 16, where the 8 added streams brought two, a quarter
// of an average stream's each.
func TestAdaptivePartialGain(t *testing.T) {
	l := newLink()
	got := l.run(3, func(s int) int64 { return min(int64(s), 10) << 20 })
	if want := []int{8, 16, 8}; !equal(got, want) {
		t.Fatalf("limits %v, want %v", got, want)
	}
}

// TestAdaptiveThrottled: a 429 or 5xx halves the limit, not below Min,
// and the level holds for Hold windows before probing again.
func TestAdaptiveThrottled(t *testing.T) {
	l := newLink()
	l.run(3, func(s int) int64 { return int64(s) << 20 }) // up to 16
	if got := l.a.Throttled(); got != 8 {
		t.Fatalf("after a 429 at 16: %d, want 8", got)
	}
	l.a.Throttled()
	if got := l.a.Throttled(); got != l.a.Min {
		t.Fatalf("after three 429s: %d, want the minimum %d", got, l.a.Min)
	}
	got := l.run(l.a.Hold+1, func(s int) int64 { return int64(s) << 20 })
	for i, g := range got[:l.a.Hold] {
		if g != l.a.Min {
			t.Fatalf("window %d after throttling: %d, want %d held", i, g, l.a.Min)
		}
	}
	if got[l.a.Hold] != 4 {
		t.Fatalf("after the hold: %d, want a probe to 4", got[l.a.Hold])
	}
}

// TestAdaptiveIgnoresIdleWindows: with fewer blobs left than streams
// (the tail of a pull), throughput says nothing about more streams.
func TestAdaptiveIgnoresIdleWindows(t *testing.T) {
	a := NewAdaptive()
	now := time.Unix(1e9, 0)
	var total int64
	for range 20 {
		a.Sample(now, total, 2)
		now = now.Add(a.Window / 4)
		total += 1 << 20
	}
	if a.Limit() != a.Start {
		t.Fatalf("limit %d after windows with 2 of %d streams busy", a.Limit(), a.Start)
	}
}
