package serve

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// The distribution spec's error codes this server answers with.
const (
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeNameInvalid     = "NAME_INVALID"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeUnsupported     = "UNSUPPORTED"
	codeUnauthorized    = "UNAUTHORIZED"
	codeTooMany         = "TOOMANYREQUESTS"
	codeSizeInvalid     = "SIZE_INVALID"
	// codePaginationInvalid is distribution's code for a bad n; the spec
	// names no code for it.
	codePaginationInvalid = "PAGINATION_NUMBER_INVALID"
	// codeUnknown is what distribution answers for a server-side failure
	// (here: stored content that fails its digest).
	codeUnknown = "UNKNOWN"
)

type specError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError sends the spec's error document. A HEAD gets the status and
// headers only, as HTTP requires.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body, _ := json.Marshal(struct {
		Errors []specError `json:"errors"`
	}{[]specError{{Code: code, Message: msg}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Docker-Content-Digest")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
