package serve

import (
	"regexp"
	"strings"
)

// maxNameLen is the distribution spec's bound: a repository name with its
// registry host must fit in 255 characters, so anything longer cannot be
// one of ours and is refused before any lookup.
const maxNameLen = 255

// nameRe is the spec's repository name grammar. Dots only appear between
// alphanumerics, so no name can hold a ".." or an empty segment.
var nameRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// tagRe is the spec's tag grammar.
var tagRe = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func validName(s string) bool { return len(s) <= maxNameLen && nameRe.MatchString(s) }

// Prefix rewrites the repository names a store's images carry into the
// names a client asks for. From is a leading path taken off (the names
// that do not start with it are served unchanged) and To a path put in
// front, so "docker.io/library=" strips, "=mirror" adds and
// "docker.io=mirror" does both.
type Prefix struct {
	From, To string
}

// ParsePrefix reads the --prefix form: "TO" alone adds TO, "FROM=TO"
// replaces a leading FROM (an empty TO strips it).
func ParsePrefix(s string) Prefix {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return Prefix{To: strings.Trim(s, "/")}
	}
	return Prefix{From: strings.Trim(from, "/"), To: strings.Trim(to, "/")}
}

// apply returns the name served for name.
func (p Prefix) apply(name string) string {
	if p.From != "" {
		switch {
		case name == p.From:
			name = ""
		case strings.HasPrefix(name, p.From+"/"):
			name = name[len(p.From)+1:]
		default:
			return name
		}
	}
	switch {
	case p.To == "":
		return name
	case name == "":
		return p.To
	}
	return p.To + "/" + name
}

// servedNames are the names a stored repository is served under: its full
// normalized path (docker.io/library/busybox) and that path without the
// registry host (library/busybox), which is what a client asking this
// server for library/busybox means.
func servedNames(repo string, p Prefix) []string {
	names := []string{p.apply(repo)}
	if host, rest, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		if short := p.apply(rest); short != names[0] {
			names = append(names, short)
		}
	}
	return names
}
