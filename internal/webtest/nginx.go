// Package webtest runs the real nginx from Debian for tests of the static
// web route: a layout published by a web server users actually run, not
// Go's file server, so Range, HEAD, keep-alive, MIME types and auth are
// nginx's own.
package webtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// Options shape the server.
type Options struct {
	// Plain serves http instead of https (behind a fault proxy, which
	// speaks plain HTTP to its upstream).
	Plain bool
	// Users turns on auth_basic with these user → password pairs.
	Users map[string]string
}

// Server is a running nginx.
type Server struct {
	URL    string // https://127.0.0.1:PORT/ (http:// with Plain)
	Host   string // 127.0.0.1:PORT
	CAFile string // the CA that signed its certificate (https only)
	// AccessLog records every request as "METHOD URI STATUS RANGE BYTES
	// CONNECTION" (nginx's connection serial number, to see reuse).
	AccessLog string
}

// binary finds nginx, which scripts/nginx.sh installs. Without it the
// test skips, except under CI, where it must run.
func binary(t testing.TB) string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx not installed: run scripts/nginx.sh (CI must not skip the web-server tests)")
	}
	t.Skip("nginx not installed and scripts/nginx.sh could not install it here")
	return ""
}

// Serve publishes root (a directory `ferry export --to` wrote) with nginx
// on a free loopback port until the test ends. nginx runs as the current
// user in the foreground with one process (master_process off: no switch
// to another user, who could not read the test's temporary directory),
// with its configuration, pid, logs and temporary files all in a
// directory of the test's own.
func Serve(t testing.TB, root string, o Options) *Server {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{AccessLog: filepath.Join(dir, "access.log")}
	scheme, listen, tlsConf := "https", "ssl", ""
	if o.Plain {
		scheme, listen = "http", ""
	} else {
		ca, cert, key := regtest.WriteTLS(t, dir)
		s.CAFile = ca
		tlsConf = fmt.Sprintf("ssl_certificate %s;\n\t\tssl_certificate_key %s;", cert, key)
	}
	auth := ""
	if len(o.Users) > 0 {
		auth = fmt.Sprintf("auth_basic \"ferry test\";\n\t\t\tauth_basic_user_file %s;", regtest.WriteHtpasswd(t, dir, o.Users))
	}
	for try := 0; ; try++ {
		port := regtest.FreePort(t)
		s.Host = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = scheme + "://" + s.Host + "/"
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(config(dir, root, s.Host, listen, tlsConf, auth)), 0o644); err != nil {
			t.Fatal(err)
		}
		errLog := filepath.Join(dir, "error.log")
		cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", errLog)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if up(s.Host, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return s
		}
		cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(errLog)
		if try >= 2 || !strings.Contains(string(log), "in use") {
			t.Fatalf("nginx did not start:\n%s", log)
		}
	}
}

// up waits for nginx to accept connections, or to exit.
func up(host string, exited chan error) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func config(dir, root, host, listen, tlsConf, auth string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 512; }
http {
	log_format ferry '$request_method $request_uri $status "$http_range" $body_bytes_sent $connection';
	access_log %[1]s/access.log ferry;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	types { application/json json; }
	default_type application/octet-stream;
	sendfile on;
	keepalive_requests 10000;
	server {
		listen %[3]s %[4]s;
		%[5]s
		root %[2]s;
		location / {
			%[6]s
		}
	}
}
`, dir, root, host, listen, tlsConf, auth)
}

// Log is the access log so far.
func (s *Server) Log(t testing.TB) string {
	b, err := os.ReadFile(s.AccessLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
