package s3

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says how to reach the server. The zero value is AWS S3 over TLS,
// with credentials from the standard AWS variables and files.
type Config struct {
	// Endpoint is the server: https://HOST[:PORT], http://HOST[:PORT]
	// (plain HTTP, for a server on a trusted network) or HOST[:PORT]
	// (TLS). Empty: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS.
	Endpoint string
	// Region signs requests; empty: $AWS_REGION, $AWS_DEFAULT_REGION,
	// else asked of AWS, or us-east-1 for another server (on-premises
	// servers ignore it or expect that).
	Region string
	// PathStyle puts the bucket in the path (HOST/BUCKET/KEY) instead of
	// the host name (BUCKET.HOST/KEY), as most on-premises servers need.
	PathStyle bool
	// CAFile adds CA certificates to the system's for the server's TLS.
	CAFile string
	// PartSize is the size of a multipart upload's parts, and the size
	// above which a blob goes in parts (0: DefaultPartSize). Tests lower
	// it to exercise multipart with small images.
	PartSize int64
}

// DefaultPartSize keeps a 10 GiB layer to 160 parts (a lost part costs
// 64 MiB again, not the layer) while each part is streamed, never held:
// the size bounds a retry's waste, not memory.
const DefaultPartSize = 64 << 20

// MinPartSize is S3's own minimum for every part but the last.
const MinPartSize = 5 << 20

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

func (c Config) endpoint() (host string, secure bool, err error) {
	e := c.Endpoint
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if e == "" {
			e = os.Getenv(v)
		}
	}
	if e == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("S3 endpoint %q: give http(s)://HOST[:PORT], with no path or user", c.Endpoint)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("S3 endpoint %q: scheme must be http or https", c.Endpoint)
}

func (c Config) region(host string) string {
	for _, v := range []string{c.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")} {
		if v != "" {
			return v
		}
	}
	if strings.HasSuffix(host, ".amazonaws.com") {
		return "" // minio-go asks the bucket's location
	}
	return "us-east-1"
}

// credentialChain follows the AWS tools' order: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
// AWS_PROFILE (or default) profile of AWS_SHARED_CREDENTIALS_FILE (or
// ~/.aws/credentials). With neither, requests go unsigned, which is what
// reading a public bucket takes.
func credentialChain() *credentials.Credentials {
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
}

func (c Config) client() (*minio.Core, error) {
	host, secure, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", c.CAFile)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	// Three tries, not minio-go's ten: its retry test takes a refused
	// certificate for a transient error (Go wraps the x509 error it looks
	// for), and ten rounds of backoff make a wrong CA a long silent wait.
	cl, err := minio.New(host, &minio.Options{Creds: credentialChain(), Secure: secure, Region: c.region(host), BucketLookup: lookup,
		Transport: http.RoundTripper(tr), MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %s: %w", host, err)
	}
	return &minio.Core{Client: cl}, nil
}
