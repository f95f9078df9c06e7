// Package regtest starts the real reference registry (CNCF Distribution
// v3, built into bin/ by the Makefile) on a free loopback port for tests.
// Registry tests never talk to anything but 127.0.0.1, and when CI is set
// a missing registry binary fails the test instead of skipping it.
package regtest

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Registry is a running registry.
type Registry struct {
	Host   string // 127.0.0.1:PORT
	Dir    string // its storage
	Log    string // its log file, which records every request
	CAFile string // with Options.TLS: the CA that signed its certificate
}

// binary finds bin/registry from the module root.
func binary(t testing.TB) string { return Built(t, "registry", "FERRY_REGISTRY_BIN", "make registry") }

// Built finds a server the Makefile builds into bin/ (the reference
// registry, the S3 gateway), or the one the environment variable env
// names. Without it a test skips, except under CI, where it must run: the
// message says which make target builds it.
func Built(t testing.TB, name, env, target string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not built at %s: run `%s` (CI must not skip the tests that need it)", name, p, target)
		}
		t.Skipf("%s not built at %s: run `%s`", name, p, target)
	}
	return p
}

// redirect is the storage middleware that sends blob GETs to base.
func redirect(base string) string {
	if base == "" {
		return ""
	}
	return fmt.Sprintf("middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: %s\n", base)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a fresh, empty, open registry until the test ends.
func Start(t testing.TB) *Registry { return StartWith(t, Options{}) }

// StartWith runs a fresh registry with authentication or TLS.
func StartWith(t testing.TB, o Options) *Registry {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	port := freePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Log: filepath.Join(dir, "registry.log")}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
%shttp:
  addr: %s
  secret: ferry-test
`, filepath.Join(dir, "data"), redirect(o.RedirectTo), r.Host)
	scheme := "http"
	if o.TLS {
		ca, cert, key := writeTLS(t, dir)
		r.CAFile, scheme = ca, "https"
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if o.TokenRealm != "" {
		ca := r.CAFile
		if ca == "" {
			ca, _, _ = writeTLS(t, dir)
		}
		cfg += fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: ferry-test\n    issuer: ferry-test\n    rootcertbundle: %s\n", o.TokenRealm, ca)
	} else if len(o.Users) > 0 {
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", writeHtpasswd(t, dir, o.Users))
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	dieWithParent(cmd)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness probe only
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := probe.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(r.Log)
	t.Fatalf("registry did not start on %s:\n%s", r.Host, b)
	return nil
}
