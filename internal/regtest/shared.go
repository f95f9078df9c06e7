package regtest

import "testing"

// The pieces other test servers share with the registry's (internal/webtest
// runs nginx with the same kind of CA and htpasswd file, behind the same
// fault proxy), so every test server is set up one way.

// WriteTLS makes, in dir, a CA and a certificate for 127.0.0.1 signed by
// it, and returns the three PEM files.
func WriteTLS(t testing.TB, dir string) (ca, cert, key string) { return writeTLS(t, dir) }

// WriteHtpasswd writes an htpasswd file of bcrypt entries in dir.
func WriteHtpasswd(t testing.TB, dir string, users map[string]string) string {
	return writeHtpasswd(t, dir, users)
}

// FreePort is a loopback port free at the time of asking.
func FreePort(t testing.TB) int { return freePort(t) }

// NewProxyTo starts the fault-injecting proxy in front of any plain HTTP
// server on loopback (host is 127.0.0.1:PORT), not only a registry.
func NewProxyTo(t testing.TB, host string, faults ...Fault) *Proxy {
	return NewProxy(t, &Registry{Host: host}, faults...)
}
