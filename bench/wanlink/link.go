package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunk is the most a pump reads at once: small enough that connections
// sharing a lane interleave finely (32 KiB is 1.3 ms at 25 MB/s), large
// enough that the proxy's own CPU stays out of the figures.
const chunk = 32 << 10

// slack is how far ahead of the lane's clock a pump may queue: a timer
// that wakes late must not leave the lane idle, or the link would run
// below its nominal rate and the limit the bench prints could not be met.
// It is a router's buffer, 5 ms of the line.
const slack = 5 * time.Millisecond

// lane is one direction of the link. Every connection's bytes in that
// direction pass through the same lane, so they share its rate as flows
// share a real line; toxiproxy's bandwidth toxic, by contrast, gives each
// connection the whole rate.
type lane struct {
	rate  float64       // bytes per second; 0: no limit
	delay time.Duration // one-way propagation, added to every byte

	mu   sync.Mutex
	free time.Time // when the line has sent everything accepted so far
}

// reserve puts n bytes on the line and returns when their last byte has
// left it. The time is kept on the lane's own clock, not on when callers
// wake, so the rate is byte-accurate however late the scheduler runs us;
// an idle line restarts from now, since time it spent idle is gone.
func (l *lane) reserve(n int) time.Time {
	now := time.Now()
	if l.rate <= 0 {
		return now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free.Before(now) {
		l.free = now
	}
	l.free = l.free.Add(time.Duration(float64(n) * 1e9 / l.rate))
	return l.free
}

// Link is a shared wide-area link between listeners and one upstream:
// every connection accepted is dialled through to the upstream, its bytes
// paced by the link's two lanes.
type Link struct {
	Up, Down *lane // client to upstream, upstream to client
	Upstream string
}

func NewLink(upstream string, upRate, downRate float64, delay time.Duration) *Link {
	return &Link{Up: &lane{rate: upRate, delay: delay}, Down: &lane{rate: downRate, delay: delay}, Upstream: upstream}
}

// Serve accepts connections on ln until it is closed.
func (k *Link) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go k.handle(c)
	}
}

func (k *Link) handle(client net.Conn) {
	server, err := net.Dial("tcp", k.Upstream)
	if err != nil {
		client.Close()
		return
	}
	var once sync.Once
	abort := func() { once.Do(func() { client.Close(); server.Close() }) }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pump(k.Up, server, client, abort) }()
	go func() { defer wg.Done(); pump(k.Down, client, server, abort) }()
	wg.Wait()
	abort()
}

// packet is bytes in flight: read from one side, due at the other at at.
type packet struct {
	b  []byte
	at time.Time
}

var bufs = sync.Pool{New: func() any { return make([]byte, chunk) }}

// pump carries src's bytes to dst through l: each read is queued on the
// lane, then held for the lane's delay in a FIFO (constant delay keeps
// the order), then written. A read waits while the lane is more than
// slack behind, so a sender feels the link's rate through TCP's own
// backpressure, as it would behind a real bottleneck. EOF is passed on as
// a half-close; any error ends both directions.
func pump(l *lane, dst, src net.Conn, abort func()) {
	// The delay line holds what is in flight: at most a bandwidth-delay
	// product plus the slack, in chunks, with room for small reads.
	n := 256
	if l.rate > 0 {
		n += int(l.rate*(l.delay+slack).Seconds()*2/chunk) + 1
	} else {
		n = 1024 // no pacing: the FIFO's capacity is what bounds memory
	}
	line := make(chan packet, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range line {
			if d := time.Until(p.at); d > 0 {
				time.Sleep(d)
			}
			if p.b == nil {
				if tc, ok := dst.(interface{ CloseWrite() error }); ok {
					tc.CloseWrite()
				}
				return
			}
			_, err := dst.Write(p.b)
			bufs.Put(p.b[:chunk])
			if err != nil {
				abort()
				for range line { // let the reader finish
				}
				return
			}
		}
	}()
	for {
		b := bufs.Get().([]byte)
		m, err := src.Read(b)
		if m > 0 {
			sent := l.reserve(m)
			if d := time.Until(sent.Add(-slack)); d > 0 {
				time.Sleep(d)
			}
			line <- packet{b: b[:m], at: sent.Add(l.delay)}
		} else {
			bufs.Put(b)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				line <- packet{at: time.Now().Add(l.delay)}
			} else {
				abort()
			}
			break
		}
	}
	close(line)
	<-done
}
