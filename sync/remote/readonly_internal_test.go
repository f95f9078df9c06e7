package remote

import (
	"errors"
	"net/http"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// TestRefusedWriteIsReadOnly: a registry that refuses a write, however it
// words it (401, 403, DENIED), is to ferry a read-only store, named by the
// one sentinel; a refused read is not a "read-only" answer.
func TestRefusedWriteIsReadOnly(t *testing.T) {
	cases := []struct {
		e    RegistryError
		want bool
	}{
		{RegistryError{Method: http.MethodPost, Status: http.StatusUnauthorized}, true},
		{RegistryError{Method: http.MethodPut, Status: http.StatusForbidden}, true},
		{RegistryError{Method: http.MethodPatch, Status: http.StatusBadRequest, Codes: []string{"DENIED"}}, true},
		{RegistryError{Method: http.MethodGet, Status: http.StatusForbidden}, false},
		{RegistryError{Method: http.MethodHead, Status: http.StatusUnauthorized}, false},
		{RegistryError{Method: http.MethodPut, Status: http.StatusBadRequest, Codes: []string{"DIGEST_INVALID"}}, false},
	}
	for _, c := range cases {
		if got := errors.Is(&c.e, layout.ErrReadOnly); got != c.want {
			t.Errorf("%s %d %v: errors.Is(ErrReadOnly) = %v, want %v", c.e.Method, c.e.Status, c.e.Codes, got, c.want)
		}
	}
}
