package remote

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

func TestParseChallenges(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Negotiate`)
	h.Add("WWW-Authenticate", `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull"`)
	h.Add("WWW-Authenticate", `Basic realm="quoted \"realm\""`)
	chs := parseChallenges(h)
	if len(chs) != 3 || chs[0].scheme != "negotiate" || chs[1].scheme != "bearer" || chs[2].scheme != "basic" {
		t.Fatalf("schemes: %+v", chs)
	}
	if chs[1].params["realm"] != "https://auth.example/token" || chs[1].params["service"] != "registry.example" ||
		chs[1].params["scope"] != "repository:a/b:pull,push repository:c:pull" {
		t.Fatalf("bearer params: %+v", chs[1].params)
	}
	if chs[2].params["realm"] != `quoted "realm"` {
		t.Fatalf("escaped quote: %q", chs[2].params["realm"])
	}
}

// TestBearerTokenFlow: the reference registry cannot issue tokens without
// an external issuer, so this protocol edge runs against a small token
// server (over TLS: credentials go to no plain-HTTP realm on another
// host) and registry: anonymous tokens carry service and scope, an
// identity token is sent only to the realm as a refresh grant (POST,
// then GET when the realm answers 404), and the registry gets only the
// bearer token.
func TestBearerTokenFlow(t *testing.T) {
	blob := []byte("token protected layer")
	d := digest.FromBytes(blob)
	var mu sync.Mutex
	var realmCalls, leaks []string
	realm := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		realmCalls = append(realmCalls, r.Method+" "+r.Form.Get("grant_type")+" "+r.Form.Get("service")+" "+strings.Join(r.Form["scope"], "|"))
		mu.Unlock()
		if r.Method == http.MethodPost {
			http.NotFound(w, r) // an old token server: GET only
			return
		}
		io.WriteString(w, `{"token":"tok-123","expires_in":300}`)
	}))
	defer realm.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if strings.Contains(auth, "refresh-secret") {
			mu.Lock()
			leaks = append(leaks, auth)
			mu.Unlock()
		}
		if auth != "Bearer tok-123" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="test-registry",scope="repository:team/app:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write(blob)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	c := &Client{Insecure: true, Credentials: func(context.Context, string) (Credential, error) {
		return Credential{IdentityToken: "refresh-secret"}, nil
	}}
	ref, _ := layout.ParseRef(host + "/team/app:v1")
	b, err := layout.ReadAll(context.Background(), c.Repository(ref, false),
		ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(blob))}, 1<<20)
	if err != nil || string(b) != string(blob) {
		t.Fatalf("fetch with a bearer token: %q, %v", b, err)
	}
	if len(realmCalls) != 2 || !strings.HasPrefix(realmCalls[0], "POST refresh_token test-registry") ||
		!strings.HasPrefix(realmCalls[1], "GET  test-registry repository:team/app:pull") {
		t.Fatalf("token requests: %q", realmCalls)
	}
	if len(leaks) > 0 {
		t.Fatalf("the refresh token reached the registry: %v", leaks)
	}
}
