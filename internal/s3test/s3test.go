// Package s3test starts a real S3-compatible server, Versity's S3 gateway
// (built into bin/ by the Makefile), on a free loopback port with its posix
// backend in a temporary directory, so the S3 route is tested against the
// protocol as a server speaks it, signatures, checksums and conditional
// writes included, not against a mock of what ferry expects. When CI is
// set, a missing binary fails the test instead of skipping it.
package s3test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// Server is a running gateway.
type Server struct {
	Host      string // 127.0.0.1:PORT
	Dir       string // the posix backend: one directory per bucket
	Log       string // its log file
	AccessKey string
	SecretKey string
	CAFile    string // with Options.TLS: the CA that signed its certificate
}

// Options shape the server Start runs.
type Options struct {
	TLS bool // serve HTTPS only, with a certificate of a CA made for the test
}

// URL is the server's endpoint, as --s3-endpoint takes it.
func (s *Server) URL() string {
	if s.CAFile != "" {
		return "https://" + s.Host
	}
	return "http://" + s.Host
}

func binary(t testing.TB) string {
	return regtest.Built(t, "versitygw", "FERRY_VERSITYGW_BIN", "make s3server")
}

// Start runs a fresh gateway with no buckets until the test ends. Its root
// credentials are random per run, so a test that passes without them (or
// with the wrong ones) proves nothing was signed by accident.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith runs a fresh gateway with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: fmt.Sprintf("127.0.0.1:%d", regtest.FreePort(t)), Dir: data, Log: filepath.Join(dir, "versitygw.log"),
		AccessKey: fmt.Sprintf("ferrytest%d", time.Now().UnixNano()%1e6), SecretKey: fmt.Sprintf("secret-%d", time.Now().UnixNano())}
	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	// Object metadata (ETags, checksums) goes in extended attributes, set
	// before an object is published: with --sidecar files it is written
	// apart from the content, and a GET can pair new bytes with the old
	// ETag, which makes conditional writes lose updates.
	args := []string{"--port", s.Host, "--quiet"}
	if o.TLS {
		ca, cert, key := regtest.WriteTLS(t, dir)
		s.CAFile = ca
		args = append(args, "--cert", cert, "--key", key)
	}
	cmd := exec.Command(bin, append(args, "posix", data)...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
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
		if resp, err := probe.Get(s.URL() + "/"); err == nil {
			resp.Body.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(s.Log)
	t.Fatalf("S3 gateway did not start on %s:\n%s", s.Host, b)
	return nil
}

// Client is a root client of the server, for a test's own setup and
// inspection (creating buckets, listing or corrupting objects).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	opts := &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		opts.Secure, opts.Transport = true, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	c, err := minio.New(s.Host, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Env sets the standard AWS variables to the root credentials for the rest
// of the test, with every other source of credentials cleared so none on
// the machine running the tests is used.
func (s *Server) Env(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// PublicPolicy is the bucket policy that lets anyone GET objects (but not
// list or write): what makes a bucket a static web route, read by plain
// GETs of http://HOST/BUCKET/PREFIX/index.json and the blobs it names.
func PublicPolicy(bucket string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket)
}

// Public applies PublicPolicy to a bucket.
func (s *Server) Public(t testing.TB, bucket string) {
	t.Helper()
	if err := s.Client(t).SetBucketPolicy(context.Background(), bucket, PublicPolicy(bucket)); err != nil {
		t.Fatalf("make bucket %s public: %v", bucket, err)
	}
}
