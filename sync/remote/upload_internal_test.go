package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
)

// uploadModes are both ways a file leaves for the registry: sendfile with
// the hash beside it, and copied through ferry, hashed in line.
var uploadModes = map[string]int{"sendfile": sendAlways, "copy": sendCopy}

// blobFile writes n random bytes to a file and returns its path, content
// and descriptor.
func blobFile(t *testing.T, n int, seed byte) (string, []byte, ocispec.Descriptor) {
	t.Helper()
	b, _ := io.ReadAll(io.LimitReader(rand.NewChaCha8([32]byte{seed}), int64(n)))
	p := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(n)}
}

// pushFile pushes the file at p as d, through a VerifyReader as
// layout.Copy hands it over.
func pushFile(t *testing.T, repo *Repository, p string, d ocispec.Descriptor) error {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vr, err := layout.NewVerifyReader(f, d)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Push(context.Background(), d, vr)
}

// uploads counts the content requests sent to upload sessions.
func uploads(sends []string) (patches, puts int) {
	for _, s := range sends {
		switch {
		case strings.HasPrefix(s, "PATCH ") && strings.Contains(s, "/blobs/uploads/"):
			patches++
		case strings.HasPrefix(s, "PUT ") && strings.Contains(s, "/blobs/uploads/"):
			puts++
		}
	}
	return patches, puts
}

// TestUploadBigBlobFromFile: a blob larger than the in-memory limit and
// than a chunk comes back byte for byte under its digest, whichever way
// it left the file: by sendfile in PATCHes and a bodiless closing PUT
// (the hash runs behind the send), copied with the last chunk in the
// closing PUT.
func TestUploadBigBlobFromFile(t *testing.T) {
	reg := regtest.Start(t)
	p, blob, d := blobFile(t, 9<<20+777, 3)
	for name, mode := range uploadModes {
		t.Run(name, func(t *testing.T) {
			counter := regtest.NewCounter(t, reg)
			c := &Client{ChunkSize: 4 << 20, sendMode: mode}
			ref, _ := layout.ParseRef(counter.Host + "/big/" + name + ":x")
			repo := c.Repository(ref, true)
			if err := pushFile(t, repo, p, d); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"sendfile": 3, "copy": 2}[name]
			if patches, puts := uploads(counter.Sends()); patches != want || puts != 1 {
				t.Fatalf("want %d PATCHes and one closing PUT, saw %v", want, counter.Sends())
			}
			if counter.Bytes() != d.Size {
				t.Fatalf("sent %d bytes for a %d-byte blob", counter.Bytes(), d.Size)
			}
			fresh := (&Client{}).Repository(ref, false)
			if ok, err := fresh.Exists(context.Background(), d); !ok || err != nil {
				t.Fatalf("HEAD after push: %v %v", ok, err)
			}
			got, err := layout.ReadAll(context.Background(), fresh, d, 16<<20)
			if err != nil || !bytes.Equal(got, blob) {
				t.Fatalf("read back: %v", err)
			}
		})
	}
}

// TestUploadRefusesSourceChangedMidway: a file changed while its upload
// runs, ahead of what was sent, is caught by the hash of what went, and
// the session is never committed: by sendfile no closing PUT goes out;
// copied, the closing PUT's body stops short of its held-back tail. The
// registry has no blob under the digest either way.
func TestUploadRefusesSourceChangedMidway(t *testing.T) {
	reg := regtest.Start(t)
	for name, mode := range uploadModes {
		t.Run(name, func(t *testing.T) {
			p, _, d := blobFile(t, 48<<20, 4)
			counter := regtest.NewCounter(t, reg)
			var once sync.Once
			counter.OnBytes(func(total int64) {
				if total < 1<<20 {
					return
				}
				// The proxy waits for this, so the client is at most
				// the sockets' buffers ahead: the last byte is unsent.
				once.Do(func() {
					f, err := os.OpenFile(p, os.O_RDWR, 0)
					if err != nil {
						t.Error(err)
						return
					}
					defer f.Close()
					b := []byte{0}
					f.ReadAt(b, d.Size-1)
					b[0] ^= 0xff
					if _, err := f.WriteAt(b, d.Size-1); err != nil {
						t.Error(err)
					}
				})
			})
			c := &Client{sendMode: mode}
			ref, _ := layout.ParseRef(counter.Host + "/changed/" + name + ":x")
			repo := c.Repository(ref, true)
			err := pushFile(t, repo, p, d)
			if !errors.Is(err, layout.ErrDigestMismatch) || !strings.Contains(err.Error(), d.Digest.String()) {
				t.Fatalf("want a digest mismatch naming %s, got %v", d.Digest, err)
			}
			counter.Settle()
			_, puts := uploads(counter.Sends())
			switch {
			case name == "sendfile" && puts != 0:
				t.Fatalf("a closing PUT went out for content that did not verify: %v", counter.Sends())
			case name == "copy" && counter.Bytes() > d.Size-tailHold:
				t.Fatalf("%d bytes of a %d-byte blob went: the tail held back for the digest went too", counter.Bytes(), d.Size)
			}
			if ok, err := (&Client{}).Repository(ref, false).Exists(context.Background(), d); ok || err != nil {
				t.Fatalf("the registry holds the blob: %v %v", ok, err)
			}
		})
	}
}

// TestSendfileUploadToServerThatStopsReading: under sendfile no read of
// the transport's feeds the idle watchdog; the hash beside does, so an
// upload whose server stops reading still ends after the idle time-out.
func TestSendfileUploadToServerThatStopsReading(t *testing.T) {
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
	p, _, d := blobFile(t, 64<<20, 5)
	ref, _ := layout.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/s/app:v1")
	c := &Client{IdleTimeout: 300 * time.Millisecond, sendMode: sendAlways}
	err := pushFile(t, c.Repository(ref, true), p, d)
	if err == nil || !strings.Contains(err.Error(), "idle time-out") {
		t.Fatalf("want the idle time-out, got %v", err)
	}
}
