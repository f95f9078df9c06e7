package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A plain web server (a layout published with `ferry export`) is read
// with the same client as a registry: the same TLS settings, credentials,
// retries, idle watchdog and resumable downloads, and the same rule that
// credentials never follow a redirect to another host. These entry points
// take a full URL instead of a repository; the scheme is the one given,
// never switched.

// Get sends a GET (or HEAD) for u and returns the response whatever its
// status; the caller closes the body, and turns a failure into an error
// with Failure. A 401 is answered as for a registry: basic credentials
// for u's host, or, for a Bearer challenge, the registrytoken the
// credentials file holds for it.
func (c *Client) Get(ctx context.Context, method, u string) (*http.Response, error) {
	q, err := urlRequest(method, u)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, q)
}

// FetchURL opens u as the content of d: a GET that resumes with Range
// after a dropped connection, refused up front when the server announces
// another size. It is not verified; the caller wraps it in a VerifyReader.
// label names the source in messages.
func (c *Client) FetchURL(ctx context.Context, u string, d ocispec.Descriptor, label string) (io.ReadCloser, error) {
	q, err := urlRequest(http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	return c.resumable(ctx, d, label, "server", func() request {
		r := q
		r.header = http.Header{}
		return r
	})
}

// Failure reads a failed response (bounded) into a RegistryError and
// closes it: a 404 is layout.ErrNotFound, as from a registry.
func Failure(resp *http.Response) error { return failure(resp) }

func urlRequest(method, u string) (request, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return request{}, err
	}
	if pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
		return request{}, fmt.Errorf("%s: not an http or https URL", redactURL(u))
	}
	return request{method: method, url: pu.String(), header: http.Header{}, host: pu.Host, retryable: true, exact: true}, nil
}
