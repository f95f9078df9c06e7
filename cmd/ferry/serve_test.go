package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// syncBuffer is a stderr the test reads while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeCommand runs `ferry serve` in-process: it logs where it
// listens and what it serves, answers a pull, logs one JSON event per
// request, and exits 0 once stopped (the signal's context cancelled).
func TestServeCommand(t *testing.T) {
	set := testimage.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"ferry", "serve", set.Dir, "--addr", "127.0.0.1:0", "--json"}, strings.NewReader(""), io.Discard, &stderr)
	}()
	addrRe := regexp.MustCompile(`"event":"listening","addr":"([^"]+)"`)
	var addr string
	for i := 0; i < 200 && addr == ""; i++ {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("no listening event:\n%s", stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/v2/library/busybox/manifests/1.36")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != set.Single.Manifest.Digest.String() {
		t.Fatalf("manifest: %d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after a clean stop:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ferry serve did not stop")
	}
	log := stderr.String()
	for _, want := range []string{`"event":"repository","message":"library/busybox (tags: 1.36 latest)"`, `"event":"request"`, `"path":"/v2/library/busybox/manifests/1.36","status":200`, `"event":"stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

func TestServeRefusals(t *testing.T) {
	set := testimage.New(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", set.Dir, "--addr", "0.0.0.0:0"}, exitFailed, "--insecure-listen"},
		{[]string{"serve", set.Dir, "--tls-cert", "c.pem"}, exitUsage, "--tls-cert and --tls-key go together"},
		{[]string{"serve"}, exitUsage, "expected PATH"},
		{[]string{"serve", set.Dir, "--htpasswd", set.Dir + "/nope"}, exitFailed, "nope"},
	} {
		code, _, stderr := ferry(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("ferry %v: exit %d, %q", tc.args, code, stderr)
		}
	}
}
