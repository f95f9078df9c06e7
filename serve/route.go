package serve

import "strings"

// routeKind is which endpoint of the API a path names.
type routeKind int

const (
	routeNone routeKind = iota
	routeBase
	routeCatalog
	routeManifest
	routeBlob
	routeTags
	routeReferrers
	// routeUpload is the push side (blobs/uploads/…): answered as
	// UNSUPPORTED whatever the method.
	routeUpload
)

// route is a parsed request path. Name and ref are as written; the
// handlers judge them (a bad name is NAME_INVALID, a bad digest
// DIGEST_INVALID), so the router stays total and never fails.
type route struct {
	kind routeKind
	name string
	ref  string
}

// parseRoute splits an API path. A name may hold slashes, so the endpoint
// is found by the last of its keywords, as the spec's grammar does; the
// name in front of it is whatever is left.
func parseRoute(p string) route {
	switch p {
	case "/v2", "/v2/":
		return route{kind: routeBase}
	case "/v2/_catalog":
		return route{kind: routeCatalog}
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok || rest == "" {
		return route{}
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{kind: routeTags, name: name}
	}
	if i := strings.LastIndex(rest, "/blobs/uploads"); i > 0 {
		tail := rest[i+len("/blobs/uploads"):]
		if tail == "" || tail[0] == '/' {
			return route{kind: routeUpload, name: rest[:i]}
		}
	}
	for _, k := range []struct {
		word string
		kind routeKind
	}{{"/manifests/", routeManifest}, {"/blobs/", routeBlob}, {"/referrers/", routeReferrers}} {
		i := strings.LastIndex(rest, k.word)
		if i <= 0 {
			continue
		}
		ref := rest[i+len(k.word):]
		if ref == "" || strings.Contains(ref, "/") {
			continue
		}
		return route{kind: k.kind, name: rest[:i], ref: ref}
	}
	return route{}
}
