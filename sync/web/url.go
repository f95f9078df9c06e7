package web

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// IsURL reports whether an argument names a web layout. A docker
// reference never holds "://" (docker:// is ferry's and skopeo's registry
// form, taken before this is asked), so the scheme alone tells a web
// server from a registry without probing either.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// SplitURL separates a web layout argument into the layout's base URL
// (ending in "/") and the image it selects, if any. The layout may be
// named by its directory or by its index.json; an image is chosen after
// '#' (a fragment is never sent to the server, and ':' would clash with a
// port), for example https://mirror/images/#busybox:1.36.
func SplitURL(s string) (base, name string, err error) {
	s, name, _ = strings.Cut(s, "#")
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%s: a web layout is an http:// or https:// URL with a host", s)
	}
	if u.User != nil {
		// It would end up in shell history, logs and every error message.
		return "", "", fmt.Errorf("%s: put credentials in the credentials file (docker login %s) or pass --username and --password-stdin, not in the URL", u.Redacted(), u.Host)
	}
	if u.RawQuery != "" {
		return "", "", fmt.Errorf("%s: a web layout URL takes no query (a signed URL signs one file, not a layout)", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, ocispec.ImageIndexFile)
	u.RawPath = ""
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), name, nil
}

// blobURL is where a blob lives under the layout. The digest is validated
// first: its hex part becomes a path element, and a crafted one in a
// hostile index.json must never reach another file on the server.
func blobURL(base string, d digest.Digest) (string, error) {
	if err := layout.ValidateDigest(d); err != nil {
		return "", err
	}
	return base + "blobs/" + d.Algorithm().String() + "/" + d.Encoded(), nil
}

// SplitRoot is the server's root URL ("https://host:port/"), where a
// registry would answer /v2/.
func SplitRoot(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host + "/", nil
}

// registryForm is how the user would name a registry at the URL's host
// and path: docker://HOST/PATH.
func registryForm(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return u.Host + "/IMAGE:TAG"
	}
	return u.Host + "/" + p
}
