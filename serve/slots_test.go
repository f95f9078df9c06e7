package serve

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTooManyRequests: with every slot taken, a client gets the spec's
// TOOMANYREQUESTS at once (not a queue that grows with the clients), and
// is served again once a slot frees.
func TestTooManyRequests(t *testing.T) {
	s := &Server{idx: &index{repos: map[string]*repository{}}, cfg: Config{MaxRequests: 2, Log: NewLogger(nil, false)},
		verified: newVerifiedSet(4), slots: make(chan struct{}, 2)}
	s.slots <- struct{}{}
	s.slots <- struct{}{}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/v2/", nil))
	if w.Code != 429 || !strings.Contains(w.Body.String(), "TOOMANYREQUESTS") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("all slots taken: %d %s", w.Code, w.Body.String())
	}
	<-s.slots
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/v2/", nil))
	if w.Code != 200 {
		t.Fatalf("a slot free: %d", w.Code)
	}
}
