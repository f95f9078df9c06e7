package remote_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/layout/storetest"
	"github.com/oci-ferry/ferry/sync/remote"
)

// TestUploadAnsweredEarly: a registry that refuses an upload before it
// has read the body (chunked and monolithic) must fail the push with its
// answer, not a hang or a verify error. It is also the shape in which the
// transport may still be writing the body when the uploader reads the rest
// to verify it (the race detector saw that once under load; it did not
// recur here, and the gate in blob.go rules it out by construction).
func TestUploadAnsweredEarly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			http.NotFound(w, r)
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "/v2/a/b/blobs/uploads/x")
			w.WriteHeader(http.StatusAccepted)
		default: // PATCH or PUT: answer at once, read nothing
			w.Header().Set("Connection", "close")
			http.Error(w, `{"errors":[{"code":"DENIED","message":"quota"}]}`, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ref, _ := layout.ParseRef(strings.TrimPrefix(srv.URL, "http://") + "/a/b")
	for range 10 {
		c := &remote.Client{ChunkSize: 1 << 20}
		b, d := storetest.Blob(t, 3<<20)
		err := c.Repository(ref, true).Push(context.Background(), d, bytes.NewReader(b))
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("push to a registry that refuses it: %v", err)
		}
	}
}
