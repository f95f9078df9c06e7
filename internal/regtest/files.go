package regtest

import "testing"

// WriteHtpasswd writes an htpasswd file of bcrypt entries into dir, for
// servers other than the reference registry (ferry serve) that read one.
func WriteHtpasswd(t testing.TB, dir string, users map[string]string) string {
	return writeHtpasswd(t, dir, users)
}

// WriteTLS makes a CA and a certificate for 127.0.0.1 signed by it in dir.
func WriteTLS(t testing.TB, dir string) (ca, cert, key string) { return writeTLS(t, dir) }
