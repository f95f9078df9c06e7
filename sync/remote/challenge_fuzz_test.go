package remote

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseChallenges: a registry's WWW-Authenticate header is untrusted.
// Parsing any value ends, never panics, and gives lower-case schemes and
// keys without the separators that delimit them, so a hostile header can
// neither hang ferry nor smuggle a realm in under another key.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`,
		`Basic realm="Registry Realm"`,
		`Bearer realm="a\"b", Basic realm=x`,
		`Bearer realm="unterminated`,
		`Bearer ,,, = ,realm=`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Add("WWW-Authenticate", v)
		for _, c := range parseChallenges(h) {
			if c.scheme == "" || strings.ContainsAny(c.scheme, " ,") || c.scheme != strings.ToLower(c.scheme) {
				t.Fatalf("scheme %q from %q", c.scheme, v)
			}
			for k := range c.params {
				if strings.ContainsAny(k, " ,=") || k != strings.ToLower(k) {
					t.Fatalf("key %q from %q", k, v)
				}
			}
		}
	})
}
