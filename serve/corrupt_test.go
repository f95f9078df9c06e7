package serve_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/serve"
)

// TestCorruptBlobIsCutShort corrupts one byte of a layer larger than the
// copy buffer: the client gets the 200 and Content-Length, then a body
// that ends early (an unexpected EOF), never the full length of wrong
// bytes; the log names the file, image and digest. A blob that fits in
// one buffer fails before any byte: a 500 with the spec's error.
func TestCorruptBlobIsCutShort(t *testing.T) {
	dir, im := bigImage(t)
	corrupt(t, dir, im.Layer)
	corrupt(t, dir, im.Config)
	var log syncLog
	_, host := start(t, dir, serve.Config{Log: serve.NewLogger(&log, false)})
	resp, err := http.Get("http://" + host + "/v2/big/blobs/" + im.Layer.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != im.Layer.Size {
		t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(b)) >= im.Layer.Size {
		t.Fatalf("client read %d of %d bytes, error %v: a corrupt blob must be cut short", len(b), im.Layer.Size, err)
	}
	logged := log.waitFor("aborted")
	for _, want := range []string{"FAILURE", "big.example/big:1", im.Layer.Digest.String(), dir, "digest mismatch", "aborted"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log does not say %q:\n%s", want, logged)
		}
	}

	resp, body := get(t, "GET", "http://"+host+"/v2/big/blobs/"+im.Config.Digest.String())
	if resp.StatusCode != 500 || !strings.Contains(body, `"UNKNOWN"`) {
		t.Fatalf("small corrupt blob: %d %s", resp.StatusCode, body)
	}
	// A range of a corrupt blob is never sent: the whole is checked first.
	resp, body = get(t, "GET", "http://"+host+"/v2/big/blobs/"+im.Layer.Digest.String(), "Range", "bytes=0-99")
	if resp.StatusCode != 500 || len(body) > 0 && !strings.Contains(body, "UNKNOWN") {
		t.Fatalf("range of a corrupt blob: %d %q", resp.StatusCode, body)
	}
}

// TestBlobChangedAfterStartIsCaught: a blob that passed at start (the
// index walks manifests, not layers) and is then truncated on disk is
// caught as it is read, not served short with a 200 that looks whole.
func TestBlobTruncatedOnDisk(t *testing.T) {
	dir, im := bigImage(t)
	_, host := start(t, dir, serve.Config{})
	p := filepath.Join(dir, "blobs", "sha256", im.Layer.Digest.Encoded())
	os.Chmod(p, 0o644)
	if err := os.Truncate(p, im.Layer.Size-10); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + host + "/v2/big.example/big/blobs/" + im.Layer.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 && err == nil && int64(len(b)) == im.Layer.Size {
		t.Fatalf("a truncated blob was served as whole")
	}
	if resp.StatusCode == 200 && err == nil {
		t.Fatalf("status 200 and a body of %d bytes read without error", len(b))
	}
}
