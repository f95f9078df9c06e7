package remote_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/layout"
	"github.com/oci-ferry/ferry/sync/remote"
)

// realm is a token server that records every Authorization it receives.
type realm struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRealm(t *testing.T, tls bool) *realm {
	rl := &realm{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rl.mu.Lock()
		rl.seen = append(rl.seen, r.Header.Get("Authorization")+r.FormValue("refresh_token"))
		rl.mu.Unlock()
		w.Write([]byte(`{"token":"not-signed-by-the-registry-key"}`))
	})
	if tls {
		rl.srv = httptest.NewTLSServer(h)
	} else {
		rl.srv = httptest.NewServer(h)
	}
	t.Cleanup(rl.srv.Close)
	return rl
}

// gotSecret reports whether any request to the realm carried a credential.
func (rl *realm) gotSecret() bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for _, s := range rl.seen {
		if s != "" {
			return true
		}
	}
	return false
}

func alice(context.Context, string) (remote.Credential, error) {
	return remote.Credential{Username: "alice", Password: "s3cret-pass", IdentityToken: ""}, nil
}

func resolve(c *remote.Client, host string) error {
	ref, _ := layout.ParseRef(host + "/team/app:v1")
	_, err := c.Repository(ref, false).Resolve(context.Background(), "v1")
	return err
}

// TestTokenRealmOverPlainHTTP: the real registry, over TLS, names a token
// realm on another port in plain HTTP; the user's password must not go
// there, and the error says why and what to do. The same realm over
// https (as Docker Hub's is, on another host) gets the credentials.
func TestTokenRealmOverPlainHTTP(t *testing.T) {
	plain := newRealm(t, false)
	reg := regtest.StartWith(t, regtest.Options{TLS: true, TokenRealm: plain.srv.URL + "/token"})
	err := resolve(&remote.Client{CAFile: reg.CAFile, Credentials: alice}, reg.Host)
	if plain.gotSecret() {
		t.Fatal("basic credentials were sent to a plain-HTTP token realm")
	}
	if err == nil || !strings.Contains(err.Error(), "only over TLS") || !strings.Contains(err.Error(), "--plain-http") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want a refusal that says why and what to do, got %v", err)
	}
	// Anonymous access still asks the realm: nothing secret to expose.
	resolve(&remote.Client{CAFile: reg.CAFile}, reg.Host)
	if len(plain.seen) == 0 || plain.gotSecret() {
		t.Fatalf("anonymous token requests: %q", plain.seen)
	}

	secure := newRealm(t, true)
	reg = regtest.StartWith(t, regtest.Options{TLS: true, TokenRealm: secure.srv.URL + "/token"})
	resolve(&remote.Client{Insecure: true, Credentials: alice}, reg.Host) // the test realm's token is refused: only where it went matters
	if !secure.gotSecret() {
		t.Fatal("an https token realm on another port did not receive the credentials")
	}
}

// TestTokenRealmOfPlainRegistry: a plain-HTTP loopback registry may name
// its own host as a plain-HTTP realm, but not another one unless the user
// names that host with --plain-http.
func TestTokenRealmOfPlainRegistry(t *testing.T) {
	var mu sync.Mutex
	var own []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			mu.Lock()
			own = append(own, r.Header.Get("Authorization"))
			mu.Unlock()
			w.Write([]byte(`{"token":"t"}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	resolve(&remote.Client{Credentials: alice}, strings.TrimPrefix(srv.URL, "http://"))
	if len(own) == 0 || own[0] == "" {
		t.Fatalf("the registry's own plain-HTTP realm did not get the credentials: %q", own)
	}

	other := newRealm(t, false)
	reg := regtest.StartWith(t, regtest.Options{TokenRealm: other.srv.URL + "/token"})
	err := resolve(&remote.Client{Credentials: alice}, reg.Host)
	if other.gotSecret() || err == nil || !strings.Contains(err.Error(), "not the registry's own host") {
		t.Fatalf("a plain realm on another port: sent=%v, err=%v", other.gotSecret(), err)
	}
	otherHost := strings.TrimPrefix(other.srv.URL, "http://")
	resolve(&remote.Client{Credentials: alice, PlainHTTP: map[string]bool{otherHost: true}}, reg.Host)
	if !other.gotSecret() {
		t.Fatal("a realm the user named with --plain-http did not get the credentials")
	}
}

// TestTokenGrantNotRedirected: a realm answering a refresh-token grant
// with a 307 to another host would have Go re-send the form, refresh
// token and all; ferry refuses to follow it.
func TestTokenGrantNotRedirected(t *testing.T) {
	elsewhere := newRealm(t, false)
	tlsRealm := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+"/token", http.StatusTemporaryRedirect)
	}))
	defer tlsRealm.Close()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+tlsRealm.URL+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c := &remote.Client{Insecure: true, Credentials: func(context.Context, string) (remote.Credential, error) {
		return remote.Credential{IdentityToken: "refresh-secret"}, nil
	}}
	err := resolve(c, strings.TrimPrefix(srv.URL, "http://"))
	if elsewhere.gotSecret() || err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("refresh token re-sent through a redirect: %v (realm saw %q)", err, elsewhere.seen)
	}
}
