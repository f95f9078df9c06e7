package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oci-ferry/ferry/layout"
)

// Client talks to registries. Its zero value is usable: TLS verified,
// anonymous, plain HTTP only for loopback hosts.
type Client struct {
	// Credentials returns what to present to a registry host; nil means
	// anonymous everywhere. It gets the request's context because it may
	// run a credential helper, which must stop when ferry is interrupted.
	Credentials func(ctx context.Context, host string) (Credential, error)
	// PlainHTTP lists hosts to talk to over http (--plain-http); loopback
	// hosts always may.
	PlainHTTP map[string]bool
	// Insecure skips TLS verification (--insecure).
	Insecure bool
	// CAFile adds a CA bundle to the system roots (--ca-file).
	CAFile string
	// Retries is how often a failed idempotent request is retried; 0
	// means 4.
	Retries int
	// Version goes into the User-Agent (ferry/VERSION), so registry
	// operators can tell ferry's releases apart; "" sends "dev".
	Version string
	// ChunkSize is the largest blob uploaded in one request; larger ones
	// go in PATCHes of this size. 0 means DefaultChunkSize.
	ChunkSize int64
	// IdleTimeout ends a transfer whose body moves no byte for this long
	// (--idle-timeout); a blob download then resumes. 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// RetryTimeout bounds the time a request may wait for an answer,
	// retries included (--retry-timeout); a blob's resumes count from
	// its last byte received. 0 means DefaultRetryTimeout.
	RetryTimeout time.Duration

	// sendMode picks how uploads leave a file (sendAuto: by sendfile
	// unless the registry is on loopback).
	sendMode int

	once   sync.Once
	client *http.Client
	// bulk carries blob downloads over HTTP/1.1, one TCP connection per
	// stream: HTTP/2 would put every stream to a host on one connection,
	// whose single window (and a per-connection cap on the path) is what
	// parallel streams are there to get past.
	bulk   *http.Client
	mu     sync.Mutex
	tokens map[string]token  // host + scopes → token
	basic  map[string]string // host → the Authorization header basic auth asked for
	plain  map[string]bool   // loopback hosts found to speak plain HTTP
	known  map[string]string // host + digest → a repository holding that blob, for mounts
}

func (c *Client) userAgent() string {
	if c.Version == "" {
		return "ferry/dev"
	}
	return "ferry/" + c.Version
}

func (c *Client) chunkSize() int64 {
	if c.ChunkSize <= 0 {
		return DefaultChunkSize
	}
	return c.ChunkSize
}

func (c *Client) http() *http.Client {
	c.once.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Above the streams a pull keeps in flight (16 blobs, each big
		// one in up to 8 ranges), or finished streams' connections are
		// closed and new ones dialled, a round trip or three each.
		tr.MaxIdleConnsPerHost = 64
		tr.MaxIdleConns = 128
		tr.ForceAttemptHTTP2 = true
		// The default 4 KiB buffers make an upload read its source in
		// tiny pieces; larger ones keep hashing, not system calls, the
		// limit. Per connection, so a few connections stay cheap.
		tr.WriteBufferSize = 256 << 10
		tr.ReadBufferSize = 64 << 10
		// A registry that stops answering must not hang ferry forever;
		// the header wait is long because committing a large upload can
		// take the registry a while.
		tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = 15 * time.Second
		tr.ResponseHeaderTimeout = 5 * time.Minute
		cfg := &tls.Config{InsecureSkipVerify: c.Insecure} //nolint:gosec // only when the user asks
		if c.CAFile != "" {
			pool, _ := x509.SystemCertPool()
			if pool == nil {
				pool = x509.NewCertPool()
			}
			if pem, err := os.ReadFile(c.CAFile); err == nil {
				pool.AppendCertsFromPEM(pem)
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
		one := tr.Clone()
		one.ForceAttemptHTTP2 = false
		one.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		one.TLSClientConfig = cfg.Clone()
		one.TLSClientConfig.NextProtos = []string{"http/1.1"}
		redirect := func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			// Blob storage on another host (or port) must never see the
			// registry's credentials; Go would keep them for the same
			// host name on another port.
			// Nor may they go down to plain HTTP on the same host, and a
			// body (a token grant's refresh token) is not re-sent where
			// it was not meant to go.
			moved := req.URL.Host != via[0].URL.Host || (via[0].URL.Scheme == "https" && req.URL.Scheme != "https")
			if moved {
				req.Header.Del("Authorization")
				if req.Body != nil && req.Body != http.NoBody {
					return fmt.Errorf("refused a redirect of %s %s to %s://%s: it would carry the request body there", via[0].Method, redactURL(via[0].URL.String()), req.URL.Scheme, req.URL.Host)
				}
			}
			return nil
		}
		c.client = &http.Client{Transport: tr, CheckRedirect: redirect}
		c.bulk = &http.Client{Transport: one, CheckRedirect: redirect}
		c.tokens, c.basic, c.plain, c.known = map[string]token{}, map[string]string{}, map[string]bool{}, map[string]string{}
	})
	return c.client
}

// scheme picks http for the hosts the user named and for loopback hosts
// found to speak it; everything else, loopback included at first, gets
// https, as docker treats its default insecure registries.
func (c *Client) scheme(host string) string {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if c.PlainHTTP[host] || c.PlainHTTP[h] {
		return "http"
	}
	c.http()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plain[host] {
		return "http"
	}
	return "https"
}

// loopback hosts may fall back from https to http without being named.
func loopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

func (c *Client) credential(ctx context.Context, host string) (Credential, error) {
	if c.Credentials == nil {
		return Credential{}, nil
	}
	return c.Credentials(ctx, host)
}

// request is one HTTP exchange, rebuildable so it can be retried and
// re-sent after authenticating.
type request struct {
	method, url string
	header      http.Header
	// body returns a fresh body; nil for none. A body that cannot be
	// rebuilt (a stream) makes the request not retryable.
	body      func() (io.Reader, error)
	length    int64
	retryable bool
	host      string
	scopes    []string
	// since is when progress was last made (a resumed blob's last byte);
	// the retry time-out counts from it. Zero means now.
	since time.Time
	// exact marks a URL the user wrote (a web server): its scheme is
	// never switched to plain HTTP, loopback or not, and a Bearer
	// challenge is answered only with a registrytoken, never by asking a
	// token realm the server names.
	exact bool
	// bulk sends the request on a connection of its own (HTTP/1.1): a
	// blob download, which is one of several streams at once.
	bulk bool
}

// do sends r, authenticating as the registry asks (basic, or bearer with
// a token for r.scopes) and retrying 429, 5xx and dropped connections with
// backoff, honouring Retry-After. The caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	hc := c.http()
	if r.bulk {
		hc = c.bulk
	}
	retries := c.Retries
	if retries <= 0 {
		retries = 4
	}
	since := r.since
	if since.IsZero() {
		since = time.Now()
	}
	limit := c.retryTimeout()
	deadline := since.Add(limit)
	authed := false
	for attempt := 0; ; attempt++ {
		if r.retryable && !time.Now().Before(deadline) {
			return nil, c.noAnswer(r, limit)
		}
		resp, timedOut, err := c.attempt(ctx, hc, r, deadline)
		if timedOut {
			return nil, c.noAnswer(r, limit)
		}
		if err != nil && !r.exact && strings.HasPrefix(r.url, "https://") && loopback(r.host) && strings.Contains(err.Error(), "HTTP response to HTTPS client") {
			c.mu.Lock()
			c.plain[r.host] = true
			c.mu.Unlock()
			r.url = "http://" + strings.TrimPrefix(r.url, "https://")
			attempt--
			continue
		}
		if err != nil {
			wait := backoff(attempt, nil)
			if ctx.Err() != nil || !r.retryable || attempt >= retries || !transient(err) || time.Now().Add(wait).After(deadline) {
				return nil, fmt.Errorf("%s %s: %w", r.method, redactURL(r.url), err)
			}
			sleep(ctx, wait)
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized && !authed {
			authed = true
			chs := parseChallenges(resp.Header)
			drain(resp)
			if err := c.authenticate(ctx, r, chs); err != nil {
				return nil, err
			}
			attempt--
			continue
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			layout.NoteThrottle(ctx) // a pull in flight takes fewer blobs at once
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && r.retryable && attempt < retries &&
			time.Now().Add(backoff(attempt, resp)).Before(deadline) {
			wait := backoff(attempt, resp)
			drain(resp)
			sleep(ctx, wait)
			continue
		}
		return resp, nil
	}
}

// attempt sends r once, under a context of its own: the idle watchdog
// cancels it when the request body stops moving, and for a retryable
// request the deadline cancels it when no answer came in time. Once the
// headers are in, the deadline no longer applies and the response body
// runs under the watchdog until it is closed. timedOut reports the
// deadline, so the caller says so instead of reporting a cancellation.
func (c *Client) attempt(ctx context.Context, hc *http.Client, r request, deadline time.Time) (*http.Response, bool, error) {
	actx, cancel := context.WithCancel(ctx)
	up := newWatchdog(c.idleTimeout(), cancel)
	var late *time.Timer
	var lateFired atomic.Bool
	if r.retryable {
		late = time.AfterFunc(time.Until(deadline), func() { lateFired.Store(true); cancel() })
	}
	req, err := c.build(actx, r, up)
	if err != nil {
		cancel()
		return nil, false, err
	}
	resp, err := hc.Do(req)
	up.retire()
	if late != nil && !late.Stop() && lateFired.Load() {
		if resp != nil {
			resp.Body.Close()
		}
		cancel()
		return nil, true, nil
	}
	if err != nil {
		cancel()
		if up.fired.Load() {
			err = &stallError{what: "sending the request body", d: up.d}
		}
		return nil, false, err
	}
	resp.Body = &idleBody{rc: resp.Body, wd: newWatchdog(c.idleTimeout(), cancel), cancel: cancel, what: r.method + " " + redactURL(r.url)}
	return resp, false, nil
}

// noAnswer is the error for a request that ran out of time, retries
// included. It is not transient: retrying it again would only wait as long
// once more.
func (c *Client) noAnswer(r request, limit time.Duration) error {
	return fmt.Errorf("%s %s: no answer from %s within %s, retries included (retry time-out)", r.method, redactURL(r.url), r.host, limit)
}

func (c *Client) build(ctx context.Context, r request, wd *watchdog) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		b, err := r.body()
		if err != nil {
			return nil, err
		}
		body = b
		if w, ok := b.(watched); ok {
			w.watchBy(wd)
		} else if b != http.NoBody && r.length > 0 {
			body = &idleUpload{r: b, wd: wd, left: r.length}
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil && r.length >= 0 {
		req.ContentLength = r.length
	}
	if r.body != nil && r.retryable {
		// A rebuildable body can follow a 307 or 308, as it could
		// before the watchdog wrapped it.
		req.GetBody = func() (io.ReadCloser, error) {
			b, err := r.body()
			if err != nil || b == http.NoBody || r.length <= 0 {
				return io.NopCloser(b), err
			}
			return io.NopCloser(&idleUpload{r: b, wd: wd, left: r.length}), nil
		}
	}
	req.Header.Set("User-Agent", c.userAgent())
	if auth := c.authHeader(r); auth != "" && req.URL.Host == r.host {
		req.Header.Set("Authorization", auth)
	}
	return req, nil
}

// watched is a body that feeds the watchdog itself: one the kernel sends
// (sendfile) passes no read through a wrapper that could.
type watched interface{ watchBy(*watchdog) }

// authHeader is what the cache holds for the request's host and scopes.
func (c *Client) authHeader(r request) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.basic[r.host]; ok {
		return h
	}
	if t, ok := c.tokens[tokenKey(r)]; ok && time.Now().Before(t.expires) {
		return "Bearer " + t.value
	}
	return ""
}

func tokenKey(r request) string { return r.host + " " + strings.Join(r.scopes, " ") }

// authenticate answers a 401: basic credentials, or a bearer token from
// the challenge's realm for the request's scopes.
func (c *Client) authenticate(ctx context.Context, r request, chs []challenge) error {
	cred, err := c.credential(ctx, r.host)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		switch ch.scheme {
		case "bearer":
			if cred.RegistryToken != "" {
				c.mu.Lock()
				c.tokens[tokenKey(r)] = token{value: cred.RegistryToken, expires: time.Now().Add(time.Hour)}
				c.mu.Unlock()
				return nil
			}
			if r.exact {
				// A web server is no token service: a refresh token or a
				// password sent to a realm it names could be a hostile
				// server's to collect.
				return fmt.Errorf("%s asks for a Bearer token: put it in the credentials file as the registrytoken of %q", r.host, r.host)
			}
			scopes := r.scopes
			if s := ch.params["scope"]; s != "" {
				scopes = unionScopes(scopes, strings.Fields(s))
			}
			t, err := c.fetchToken(ctx, r, ch, scopes, cred)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.tokens[tokenKey(r)] = t
			c.mu.Unlock()
			return nil
		case "basic":
			if cred.empty() {
				return fmt.Errorf("%s asks for a username and password: run `docker login %s` or pass --username and --password-stdin", r.host, r.host)
			}
			// Kept, so the helper that gave it does not run per request.
			req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
			req.SetBasicAuth(cred.Username, cred.Password)
			c.mu.Lock()
			c.basic[r.host] = req.Header.Get("Authorization")
			c.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("%s answered 401 without a usable challenge (Bearer or Basic)", r.host)
}

func unionScopes(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// transient reports errors worth retrying: resets, timeouts, EOFs, and a
// connection the peer dropped while ferry was writing to it (a broken
// pipe, or the transport closing it on the hang-up) mid-upload.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &ne) && ne.Timeout())
}

// backoff is exponential from 200 ms, or what Retry-After says (capped).
func backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, 30*time.Second)
		}
	}
	return min(200*time.Millisecond<<attempt, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// drain discards a small body so the connection can be reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// remember notes that repo on host holds the blob d, so a later push of
// the same blob to another repository there can mount it.
func (c *Client) remember(host, repo, d string) {
	c.http()
	c.mu.Lock()
	c.known[host+" "+d] = repo
	c.mu.Unlock()
}

// holder names a repository on host known to hold d, if any.
func (c *Client) holder(host, d string) string {
	c.http()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[host+" "+d]
}
