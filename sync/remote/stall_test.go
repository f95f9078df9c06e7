package remote_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// stallingBlobs serves one blob; the first stalls requests send half of
// it after the headers and then nothing until the test ends; later ones
// honour Range and send the rest.
func stallingBlobs(t *testing.T, blob []byte, stalls int) (string, *atomic.Int64) {
	var hits atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		from := 0
		if rg := r.Header.Get("Range"); rg != "" {
			from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			w.Header().Set("Content-Range", "bytes "+strconv.Itoa(from)+"-"+strconv.Itoa(len(blob)-1)+"/"+strconv.Itoa(len(blob)))
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)-from))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		}
		if n <= int64(stalls) {
			w.Write(blob[from : from+(len(blob)-from)/2])
			w.(http.Flusher).Flush()
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(blob[from:])
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://"), &hits
}

func blobDesc(b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// TestStalledBodyResumes: a body that stops after its headers is given up
// after the idle time-out and resumed; the blob arrives whole.
func TestStalledBodyResumes(t *testing.T) {
	blob := bytes.Repeat([]byte("stall "), 50000)
	host, hits := stallingBlobs(t, blob, 1)
	ref, _ := layout.ParseRef(host + "/s/app:v1")
	c := &remote.Client{IdleTimeout: 200 * time.Millisecond, RetryTimeout: 5 * time.Second}
	got, err := layout.ReadAll(context.Background(), c.Repository(ref, false), blobDesc(blob), 1<<20)
	if err != nil || !bytes.Equal(got, blob) || hits.Load() != 2 {
		t.Fatalf("after one stall: %d bytes, %d requests, %v", len(got), hits.Load(), err)
	}
}

// TestStalledBodyGivesUp: a body that stalls on every resume ends in an
// error soon after the retry time-out, not after one time-out per resume.
func TestStalledBodyGivesUp(t *testing.T) {
	blob := bytes.Repeat([]byte("stall "), 50000)
	host, hits := stallingBlobs(t, blob, 1000)
	ref, _ := layout.ParseRef(host + "/s/app:v1")
	c := &remote.Client{IdleTimeout: 200 * time.Millisecond, RetryTimeout: 700 * time.Millisecond}
	start := time.Now()
	_, err := layout.ReadAll(context.Background(), c.Repository(ref, false), blobDesc(blob), 1<<20)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "time-out") || took > 3*time.Second || hits.Load() < 2 {
		t.Fatalf("took %s, %d requests: %v", took, hits.Load(), err)
	}
}

// TestSilentServer: a server that accepts connections and never answers
// costs the retry time-out, retries included.
func TestSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var accepted atomic.Int64
	go func() {
		for {
			cn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
			go io.Copy(io.Discard, cn)
		}
	}()
	defer func() {
		l.Close()
		mu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	}()
	ref, _ := layout.ParseRef(l.Addr().String() + "/s/app:v1")
	c := &remote.Client{PlainHTTP: map[string]bool{l.Addr().String(): true}, RetryTimeout: 600 * time.Millisecond}
	start := time.Now()
	_, err = c.Repository(ref, false).Resolve(context.Background(), "v1")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer") || took > 2*time.Second || accepted.Load() == 0 {
		t.Fatalf("took %s: %v", took, err)
	}
}

// TestUploadToServerThatStopsReading: an upload whose server stops
// reading the body ends after the idle time-out.
func TestUploadToServerThatStopsReading(t *testing.T) {
	done := make(chan struct{})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", srv.URL+"/v2/s/app/blobs/uploads/1")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		select { // never reads the body
		case <-done:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(done); srv.Close() }()
	blob := make([]byte, 64<<20)
	ref, _ := layout.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/s/app:v1")
	c := &remote.Client{IdleTimeout: 300 * time.Millisecond}
	start := time.Now()
	err := c.Repository(ref, true).Push(context.Background(), blobDesc(blob), bytes.NewReader(blob))
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "idle time-out") || took > 5*time.Second {
		t.Fatalf("took %s: %v", took, err)
	}
}

// TestStallIsFinal: a blob that kept stalling through its resumes is not
// started over by the copy's own retries.
func TestStallIsFinal(t *testing.T) {
	blob := bytes.Repeat([]byte("stall "), 50000)
	host, hits := stallingBlobs(t, blob, 1000)
	ref, _ := layout.ParseRef(host + "/s/app:v1")
	c := &remote.Client{IdleTimeout: 100 * time.Millisecond, RetryTimeout: time.Minute}
	_, err := layout.ReadAll(context.Background(), c.Repository(ref, false), blobDesc(blob), 1<<20)
	if err == nil || remote.Retryable(err) || !strings.Contains(err.Error(), "gave up after 5 resumes") || hits.Load() != 6 {
		t.Fatalf("%d requests, retryable=%v: %v", hits.Load(), remote.Retryable(err), err)
	}
}
