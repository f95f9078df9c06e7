package serve_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/archive"
	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/serve"
	ferrysync "github.com/oci-ferry/ferry/sync"
	"github.com/oci-ferry/ferry/sync/remote"
)

// listen runs serve.Listen in the background and returns its address and
// a stop function that waits for Listen to return.
func listen(t *testing.T, h http.Handler, o serve.ListenOptions) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	o.Ready = func(a string) { ready <- a }
	done := make(chan error, 1)
	go func() { done <- serve.Listen(ctx, h, serve.NewLogger(testLog{t}, false), o) }()
	select {
	case a := <-ready:
		stopped := false
		stop := func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			return <-done
		}
		t.Cleanup(func() { stop() })
		return a, stop
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	return "", nil
}

func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	h := http.NotFoundHandler()
	err := serve.Listen(context.Background(), h, serve.NewLogger(nil, false), serve.ListenOptions{Addr: "0.0.0.0:0"})
	if !errors.Is(err, serve.ErrInsecureListen) || !strings.Contains(err.Error(), "--insecure-listen") {
		t.Fatalf("plain HTTP on every interface: %v", err)
	}
	addr, stop := listen(t, h, serve.ListenOptions{Addr: "0.0.0.0:0", Insecure: true})
	if !strings.Contains(addr, ":") {
		t.Fatalf("addr %q", addr)
	}
	stop()
}

// TestTLSAndBasicAuth serves over TLS with a CA the test makes and an
// htpasswd file, and ferry pulls with the CA and the credentials; without
// credentials the answer is UNAUTHORIZED with a Basic challenge.
func TestTLSAndBasicAuth(t *testing.T) {
	set := testimage.New(t)
	dir := t.TempDir()
	ca, cert, key := regtest.WriteTLS(t, dir)
	pw := regtest.WriteHtpasswd(t, dir, map[string]string{"alice": "s3cret"})
	auth, err := serve.LoadHtpasswd(pw)
	if err != nil {
		t.Fatal(err)
	}
	src, err := archive.OpenInPlace(context.Background(), set.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := serve.New(context.Background(), src, serve.Config{Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := listen(t, srv, serve.ListenOptions{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key})
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(b)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || !strings.Contains(string(body), "UNAUTHORIZED") {
		t.Fatalf("no credentials: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	req, _ := http.NewRequest("GET", "https://"+addr+"/v2/", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("wrong password: %v %v", resp, err)
	}
	c := &remote.Client{CAFile: ca, Credentials: func(context.Context, string) (remote.Credential, error) {
		return remote.Credential{Username: "alice", Password: "s3cret"}, nil
	}}
	pulled, err := ferrysync.Pull(context.Background(), c, []string{addr + "/library/busybox:1.36"}, filepath.Join(t.TempDir(), "p"), ferrysync.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pulled) != 1 || pulled[0].Digest != set.Single.Manifest.Digest {
		t.Fatalf("pulled %+v", pulled)
	}
}

func TestHtpasswdRefusesWeakHashes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(p, []byte("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o600)
	if _, err := serve.LoadHtpasswd(p); err == nil || !strings.Contains(err.Error(), "bcrypt") || !strings.Contains(err.Error(), p+":1") {
		t.Fatalf("SHA1 entry: %v", err)
	}
}

// slowHandler holds each request until released, to see what shutdown does
// with one in flight.
type slowHandler struct {
	started chan struct{}
	release chan struct{}
}

func (h slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.started <- struct{}{}
	<-h.release
	io.WriteString(w, "done")
}

// TestShutdownLetsRequestsFinish stops the server with a request in
// flight: the request completes, new connections are refused, and Listen
// returns nil.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	h := slowHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
	addr, stop := listen(t, h, serve.ListenOptions{Addr: "127.0.0.1:0"})
	var wg sync.WaitGroup
	var got string
	var gerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			gerr = err
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got, gerr = string(b), err
	}()
	<-h.started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Listen returned (%v) with a request in flight", err)
	default:
	}
	close(h.release)
	wg.Wait()
	if gerr != nil || got != "done" {
		t.Fatalf("request in flight: %q, %v", got, gerr)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/v2/"); err == nil {
		t.Fatal("a stopped server still answers")
	}
}

// TestShutdownIsBounded: a request that never ends does not hold the stop
// past ShutdownWait.
func TestShutdownIsBounded(t *testing.T) {
	h := slowHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(h.release)
	addr, stop := listen(t, h, serve.ListenOptions{Addr: "127.0.0.1:0", ShutdownWait: 200 * time.Millisecond})
	go http.Get("http://" + addr + "/v2/")
	<-h.started
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("stop took %s", d)
	}
}

func TestCompressedArchiveRefused(t *testing.T) {
	set := testimage.New(t)
	src, err := archive.Open(context.Background(), set.Dir, archive.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, name := range []string{"a.tar.gz", "a.tar.zst"} {
		p := filepath.Join(t.TempDir(), name)
		if _, err := archive.Write(context.Background(), src, src.Images, p, archive.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := archive.OpenInPlace(context.Background(), p)
		if !errors.Is(err, archive.ErrNotRandomAccess) || !strings.Contains(err.Error(), "ferry import") || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := archive.OpenInPlace(context.Background(), "-"); !errors.Is(err, archive.ErrNotRandomAccess) {
		t.Errorf("stdin: %v", err)
	}
}
