package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// start runs a link in front of upstream and returns its address.
func start(t *testing.T, upstream string, rate float64, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go NewLink(upstream, rate, rate, delay).Serve(ln)
	return ln.Addr().String()
}

// server accepts connections and runs serve on each.
func server(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return ln.Addr().String()
}

func payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// parallel runs n clients at once through addr, each running do, and
// returns how long all of them took together.
func parallel(t *testing.T, n int, do func(i int) error) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = do(i) }()
	}
	wg.Wait()
	el := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return el
}

// within fails unless got lies in [lo, hi]. The lower bound is the
// link's rate, which nothing may beat; the upper one is loose, as these
// cores are shared, yet still short of a stalled link.
func within(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s took %v, want between %v and %v", what, got, lo, hi)
	}
}

const (
	rate  = 4e6 // bytes per second
	delay = 10 * time.Millisecond
	size  = 1 << 20
)

// TestTwoDownloadsShareTheRate: two connections downloading at once get
// the link's rate together, not each; a per-connection cap (toxiproxy's
// bandwidth toxic) would finish in half the time. The bytes arrive intact.
func TestTwoDownloadsShareTheRate(t *testing.T) {
	up := server(t, func(c net.Conn) {
		var seed [1]byte
		if _, err := io.ReadFull(c, seed[:]); err != nil {
			return
		}
		c.Write(payload(uint64(seed[0]), size))
	})
	addr := start(t, up, rate, delay)
	el := parallel(t, 2, func(i int) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte{byte(i)})
		got, err := io.ReadAll(io.LimitReader(c, size))
		if err != nil {
			return err
		}
		if sha256.Sum256(got) != sha256.Sum256(payload(uint64(i), size)) {
			t.Errorf("connection %d: %d bytes arrived, not the %d sent", i, len(got), size)
		}
		return nil
	})
	limit := time.Duration(2 * size / rate * float64(time.Second))
	within(t, "two 1 MiB downloads at 4 MB/s shared", el, limit, limit*5/2+10*delay)
}

// TestTwoUploadsShareTheRate: the same for the other lane, which a push
// fills; the server sees every byte in order, and half-closes pass through.
func TestTwoUploadsShareTheRate(t *testing.T) {
	up := server(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		sum := sha256.Sum256(b)
		c.Write(sum[:])
	})
	addr := start(t, up, rate, delay)
	el := parallel(t, 2, func(i int) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		p := payload(uint64(i), size)
		if _, err := c.Write(p); err != nil {
			return err
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if want := sha256.Sum256(p); !bytes.Equal(got, want[:]) {
			t.Errorf("connection %d: the server hashed other bytes than were sent", i)
		}
		return nil
	})
	limit := time.Duration(2 * size / rate * float64(time.Second))
	within(t, "two 1 MiB uploads at 4 MB/s shared", el, limit, limit*5/2+10*delay)
}

// TestDirectionsAreSeparate: the link is full duplex, an upload and a
// download at once each get the whole rate of their lane.
func TestDirectionsAreSeparate(t *testing.T) {
	up := server(t, func(c net.Conn) {
		var dir [1]byte
		if _, err := io.ReadFull(c, dir[:]); err != nil {
			return
		}
		if dir[0] == 'd' {
			c.Write(payload(1, size))
			return
		}
		io.Copy(io.Discard, io.LimitReader(c, size))
		c.Write([]byte{1})
	})
	addr := start(t, up, rate, delay)
	el := parallel(t, 2, func(i int) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if i == 0 {
			c.Write([]byte{'d'})
			_, err = io.Copy(io.Discard, io.LimitReader(c, size))
			return err
		}
		c.Write([]byte{'u'})
		c.Write(payload(2, size))
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	})
	// Had the directions one budget, it would take twice the limit.
	limit := time.Duration(size / rate * float64(time.Second))
	within(t, "a 1 MiB upload beside a 1 MiB download at 4 MB/s", el, limit, limit*7/4+4*delay)
}

// TestRoundTripIsTwiceTheDelay: a byte echoed through the link crosses
// it twice, so a request-response exchange costs the round trip a WAN has.
func TestRoundTripIsTwiceTheDelay(t *testing.T) {
	up := server(t, func(c net.Conn) { io.Copy(c, c) })
	addr := start(t, up, 0, 25*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 1)
	for range 3 {
		t0 := time.Now()
		c.Write([]byte{'x'})
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		within(t, "a round trip at 25 ms each way", time.Since(t0), 50*time.Millisecond, 250*time.Millisecond)
	}
}
