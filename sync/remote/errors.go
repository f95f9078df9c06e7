package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/oci-ferry/ferry/layout"
)

// maxErrorBody caps how much of an error response ferry reads.
const maxErrorBody = 64 << 10

// RegistryError is a failed request, with the distribution-spec error
// codes the registry sent, if any.
type RegistryError struct {
	Method, URL string
	Status      int
	Codes       []string
	Message     string
}

func (e *RegistryError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if len(e.Codes) > 0 {
		msg += ": " + strings.Join(e.Codes, ", ")
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += " (check your credentials: docker login, --username/--password-stdin)"
	case http.StatusForbidden:
		msg += " (the credentials do not grant this access)"
	}
	return msg
}

// Unwrap maps the registry's answer to ferry's sentinels, so callers treat
// a missing or mismatching blob alike wherever it lives: 404 and the
// spec's BLOB_UNKNOWN and MANIFEST_UNKNOWN (some registries send them
// with 400) are ErrNotFound, DIGEST_INVALID is ErrDigestMismatch and
// SIZE_INVALID ErrSizeMismatch, and a write the credentials do not allow
// ErrReadOnly. The registry's own text stays in Error.
func (e *RegistryError) Unwrap() []error {
	var out []error
	if e.Status == http.StatusNotFound || e.HasCode("BLOB_UNKNOWN") || e.HasCode("MANIFEST_UNKNOWN") {
		out = append(out, layout.ErrNotFound)
	}
	if e.HasCode("DIGEST_INVALID") {
		out = append(out, layout.ErrDigestMismatch)
	}
	if e.HasCode("SIZE_INVALID") {
		out = append(out, layout.ErrSizeMismatch)
	}
	if e.refusedWrite() {
		out = append(out, layout.ErrReadOnly)
	}
	return out
}

// refusedWrite reports a write the credentials do not allow: to ferry, a
// repository it may not push to is read-only, however the registry says it.
func (e *RegistryError) refusedWrite() bool {
	switch e.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.HasCode("DENIED")
}

// HasCode reports whether the registry sent code.
func (e *RegistryError) HasCode(code string) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// newRegistryError reads an error response (bounded) into a RegistryError.
// The body may be JSON in the spec's shape, or anything else.
func newRegistryError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &RegistryError{Method: resp.Request.Method, URL: redactURL(resp.Request.URL.String()), Status: resp.StatusCode}
	var doc struct {
		Errors []struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil && len(doc.Errors) > 0 {
		var msgs []string
		for _, x := range doc.Errors {
			e.Codes = append(e.Codes, x.Code)
			if x.Message != "" {
				msgs = append(msgs, x.Message)
			}
		}
		e.Message = strings.Join(msgs, "; ")
	}
	return e
}

// isStatus reports a RegistryError with one of the statuses.
func isStatus(err error, status ...int) bool {
	var re *RegistryError
	if !errors.As(err, &re) {
		return false
	}
	for _, s := range status {
		if re.Status == s {
			return true
		}
	}
	return false
}

// redactURL drops query parameters that may carry upload state or tokens.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// Retryable reports failures a fresh attempt may cure: dropped
// connections, 429 and 5xx. Digest and size mismatches are never retried.
func Retryable(err error) bool {
	if errors.Is(err, layout.ErrDigestMismatch) || errors.Is(err, layout.ErrSizeMismatch) {
		return false
	}
	return transient(err) || isStatus(err, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout)
}

// failure reads an error response and closes it.
func failure(resp *http.Response) error {
	defer resp.Body.Close()
	return newRegistryError(resp)
}
