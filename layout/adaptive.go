package layout

import (
	"context"
	"sync"
	"time"
)

// Adaptive decides how many blobs a copy keeps in flight when the user
// did not fix a number. It climbs a hill: starting at Start, it doubles
// the streams for as long as each added stream brings
// at least Gain of what an average stream carried before, and goes back
// to the last good level once more streams stop paying: the link or the
// CPU is then saturated, and more streams would only add memory,
// connections and contention. Round trips long beside transfer times
// (small blobs over a WAN, capped connections) make every added stream
// pay, so it climbs to Max; a saturated link stops it early. A 429 or
// 5xx from the registry halves the level, and it then holds. It probes
// again after Hold windows without a decision, since a link changes.
//
// Decisions are made from samples the caller gives (time, bytes so far,
// streams busy), one per Window of time, so a test drives it with a fake
// clock and throughput and sees every decision.
type Adaptive struct {
	Start, Min, Max int
	// Gain is the share of an average stream's throughput that an added
	// stream must bring for the added streams to be kept.
	Gain float64
	// Window is the time over which throughput is averaged before a
	// decision; Hold is how many windows a level is kept once found.
	Window time.Duration
	Hold   int

	mu        sync.Mutex
	limit     int
	from      time.Time // start of the current window
	fromBytes int64
	full      bool    // every stream was busy at each sample of the window
	base      float64 // throughput at baseLimit, the level before a probe
	baseLimit int
	held      int // windows left to hold the current level
}

// AdaptiveMax is the most blobs an adaptive pull keeps in flight, and
// how many references it resolves at once: resolving is round trips for
// small documents, which more streams always shorten.
const AdaptiveMax = 16

// NewAdaptive is the controller Copy uses: from 4 blobs in flight up to
// 16, adding streams while each brings at least half of an average
// stream's throughput, deciding every half second (so a pull of a few
// seconds reaches 16 before it ends) and holding a level found for five.
func NewAdaptive() *Adaptive {
	return &Adaptive{Start: DefaultConcurrency, Min: 2, Max: AdaptiveMax, Gain: 0.5, Window: 500 * time.Millisecond, Hold: 10}
}

// Limit is the number of blobs to keep in flight now.
func (a *Adaptive) Limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	return a.limit
}

func (a *Adaptive) init() {
	if a.limit == 0 {
		a.limit = a.Start
	}
}

// Sample records that total bytes had been moved by now, with busy
// streams working, and returns the limit. Only windows in which every
// stream was busy count: with fewer blobs left than streams (the tail of
// a copy) more streams could not help, whatever the throughput says.
func (a *Adaptive) Sample(now time.Time, total int64, busy int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	if a.from.IsZero() {
		a.from, a.fromBytes, a.full = now, total, true
		return a.limit
	}
	a.full = a.full && busy >= a.limit
	el := now.Sub(a.from)
	if el < a.Window {
		return a.limit
	}
	rate := float64(total-a.fromBytes) / el.Seconds()
	full := a.full
	a.from, a.fromBytes, a.full = now, total, true
	if !full {
		return a.limit
	}
	switch {
	case a.held > 0:
		a.held--
	case a.baseLimit == 0: // the first measure at this level: probe above
		a.probe(rate)
	default:
		added := a.limit - a.baseLimit
		perStream := a.base / float64(a.baseLimit)
		if rate-a.base >= a.Gain*perStream*float64(added) {
			a.probe(rate) // paid: climb on from here
		} else {
			a.limit, a.baseLimit, a.held = a.baseLimit, 0, a.Hold
		}
	}
	return a.limit
}

// probe doubles the limit from a level measured at rate, unless it is at
// Max already, where it holds. Doubling reaches 16 from 4 in two
// decisions, within the first second of a pull; a probe that does not
// pay costs one window at twice the streams.
func (a *Adaptive) probe(rate float64) {
	if a.limit >= a.Max {
		a.baseLimit, a.held = 0, a.Hold
		return
	}
	a.base, a.baseLimit = rate, a.limit
	a.limit = min(a.Max, a.limit*2)
}

// Throttled is told of a 429 or 5xx: the registry asks for less, so the
// limit halves and holds. It returns the new limit.
func (a *Adaptive) Throttled() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	a.limit = max(a.Min, a.limit/2)
	a.baseLimit, a.held = 0, a.Hold
	a.from = time.Time{}
	return a.limit
}

type throttleKey struct{}

// WithThrottle returns a context whose requests report a 429 or 5xx
// answer to fn (NoteThrottle): the transport sees those answers, retried
// before any error reaches Copy, and Copy is what can slow down.
func WithThrottle(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, throttleKey{}, fn)
}

// NoteThrottle tells the copy ctx belongs to, if any, that the source
// answered 429 or 5xx.
func NoteThrottle(ctx context.Context) {
	if fn, ok := ctx.Value(throttleKey{}).(func()); ok {
		fn()
	}
}

// slots is a semaphore whose size changes while it is in use.
type slots struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int
	busy  int
	dead  bool
}

func newSlots(limit int) *slots {
	s := &slots{limit: limit}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// acquire waits for a free slot; false once ctx is done.
func (s *slots) acquire(ctx context.Context) bool {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.dead = true
		s.mu.Unlock()
		s.cond.Broadcast()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy >= s.limit && !s.dead {
		s.cond.Wait()
	}
	if s.dead {
		return false
	}
	s.busy++
	return true
}

func (s *slots) release() {
	s.mu.Lock()
	s.busy--
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *slots) set(limit int) {
	s.mu.Lock()
	s.limit = limit
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *slots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}
