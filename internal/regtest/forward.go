package regtest

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// forward sends r on to the registry at upstream and writes back the
// status and headers of its answer, Location rewritten to point at self,
// the proxy's own host. It returns the answer, whose body the caller
// passes on, cuts or spoils, and closes; nil after an error it already
// answered. Every
// test proxy forwards the same way, so they differ only in what they do
// to the bytes.
func forward(ctx context.Context, w http.ResponseWriter, r *http.Request, upstream, self string, body io.Reader) *http.Response {
	out, _ := http.NewRequestWithContext(ctx, r.Method, "http://"+upstream+r.URL.RequestURI(), body)
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil
	}
	for k, v := range resp.Header {
		if k == "Location" {
			v = []string{strings.Replace(v[0], upstream, self, 1)}
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	return resp
}
