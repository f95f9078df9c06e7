package sync

import (
	"os"
	"strings"

	"github.com/oci-ferry/ferry/sync/web"
)

// Kind is what a copy endpoint is.
type Kind int

// The kinds of target every route joins.
const (
	Registry Kind = iota // a repository of a registry
	Layout               // an OCI layout directory
	Archive              // a single .tar, .tar.gz or .tar.zst file
	Web                  // a layout published on a web server (http:// or https://), read-only
	S3                   // a layout in an S3 bucket: s3://BUCKET/PREFIX
)

func (k Kind) String() string {
	return [...]string{"registry", "layout", "archive", "web layout", "S3 layout"}[k]
}

// Endpoint is one side of a copy.
type Endpoint struct {
	Kind Kind
	// Path is the layout directory or archive file; for a web layout,
	// its base URL (ending in "/"); for a bucket, the s3:// URL.
	Path string
	// Names are, for a registry, the references to read or the one to
	// write; for a layout or archive, the images selected in it (none:
	// all of them).
	Names []string
}

// ParseEndpoint reads skopeo's transport syntax, which users of these tools
// already know: docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME], or a
// bare argument: an existing directory is a layout, a name ending in
// .tar/.tar.gz/.tar.zst an archive, anything else a registry reference.
// An http:// or https:// URL is a layout on a web server (see web.SplitURL:
// an image is chosen with #NAME); a URL that does not parse is left for
// the opener to report.
// s3://BUCKET/PREFIX[:NAME] is a layout in a bucket; a prefix has no ':'
// (what follows the first one names an image, as after oci:DIR).
func ParseEndpoint(s string) Endpoint {
	named := func(k Kind, p, n string) Endpoint {
		t := Endpoint{Kind: k, Path: p}
		if n != "" {
			t.Names = []string{n}
		}
		return t
	}
	switch {
	case strings.HasPrefix(s, "s3://"):
		p, n, _ := strings.Cut(strings.TrimPrefix(s, "s3://"), ":")
		return named(S3, "s3://"+p, n)
	case strings.HasPrefix(s, "docker://"):
		return named(Registry, "", strings.TrimPrefix(s, "docker://"))
	case strings.HasPrefix(s, "oci-archive:"):
		p, n := splitName(strings.TrimPrefix(s, "oci-archive:"))
		return named(Archive, p, n)
	case strings.HasPrefix(s, "oci:"):
		p, n := splitName(strings.TrimPrefix(s, "oci:"))
		return named(Layout, p, n)
	case web.IsURL(s):
		if base, n, err := web.SplitURL(s); err == nil {
			return named(Web, base, n)
		}
		return Endpoint{Kind: Web, Path: s}
	}
	if fi, err := os.Stat(s); err == nil && fi.IsDir() {
		return Endpoint{Kind: Layout, Path: s}
	}
	if IsArchivePath(s) {
		return Endpoint{Kind: Archive, Path: s}
	}
	return named(Registry, "", s)
}

// PathEndpoint is a destination named by path alone (ferry pull --to,
// export --to): an s3:// URL, an archive if the name says so, else a
// layout directory.
func PathEndpoint(p string) Endpoint {
	if strings.HasPrefix(p, "s3://") {
		return Endpoint{Kind: S3, Path: p}
	}
	if IsArchivePath(p) {
		return Endpoint{Kind: Archive, Path: p}
	}
	return Endpoint{Kind: Layout, Path: p}
}

// IsArchivePath tells an archive file from a layout directory by name.
func IsArchivePath(p string) bool {
	for _, s := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.zstd"} {
		if strings.HasSuffix(p, s) {
			return true
		}
	}
	return false
}

// splitName separates PATH:NAME; a name may itself contain ':' (a tag or
// a port), so the path is the longest prefix that exists, else up to the
// first ':'.
func splitName(s string) (string, string) {
	for i := len(s); i > 0; i-- {
		if i < len(s) && s[i] != ':' {
			continue
		}
		if _, err := os.Stat(s[:i]); err == nil {
			return s[:i], strings.TrimPrefix(s[i:], ":")
		}
	}
	p, n, _ := strings.Cut(s, ":")
	return p, n
}
