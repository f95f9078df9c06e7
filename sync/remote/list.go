package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"

	"github.com/oci-ferry/ferry/layout"
)

// Listing a registry (the tags of a repository, the repositories of the
// catalog) is the one place a registry answers with a list whose length it
// chooses, page after page. The caps bound what a hostile or broken one can
// make ferry hold or ask for; they sit well above real registries (the
// have-list itself holds at most layout.MaxHaveListImages names).
const (
	// MaxTags is the most tags ferry lists for one repository.
	MaxTags = layout.MaxHaveListImages
	// MaxRepositories is the most repositories ferry reads from a catalog.
	MaxRepositories = 1 << 16
	// MaxListPage is the largest page body ferry reads: 1000 names of the
	// longest kind fit several times over.
	MaxListPage = 4 << 20
	// DefaultPageSize is the n ferry asks for: the reference registry's
	// own maximum, so most repositories take one request.
	DefaultPageSize = 1000
)

// tagRe is the distribution spec's tag grammar.
var tagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Tags lists every tag of the repository, following the spec's pagination
// (n and last, the Link header) with pages of pageSize (0: the default).
// A page is decoded strictly; a list that repeats itself, never ends, or
// names something that is not a tag fails with what the registry sent.
func (r *Repository) Tags(ctx context.Context, pageSize int) ([]string, error) {
	base := fmt.Sprintf("%s://%s/v2/%s/tags/list", r.c.scheme(r.Host), r.Host, r.Name)
	label := r.Host + "/" + r.Name + ": tags list"
	return r.c.list(ctx, r.req(http.MethodGet, ""), base, label, pageSize, MaxTags, func(b []byte) ([]string, error) {
		return parseTagsPage(b, r.Name)
	})
}

// parseTagsPage decodes one page of a tags list for repository name.
func parseTagsPage(b []byte, name string) ([]string, error) {
	var page struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := decodePage(b, &page); err != nil {
		return nil, err
	}
	if page.Name != name {
		return nil, fmt.Errorf("the page is for repository %q", page.Name)
	}
	for _, t := range page.Tags {
		if !tagRe.MatchString(t) {
			return nil, fmt.Errorf("%q is not a tag", t)
		}
	}
	return page.Tags, nil
}

// Catalog lists the repositories of the registry at host, paginated as
// Tags is. Registries that do not offer the catalog (most public ones)
// answer 401, 403 or 404, which comes back as a RegistryError.
func (c *Client) Catalog(ctx context.Context, host string, pageSize int) ([]string, error) {
	host, _ = splitRepo(host + "/")
	q := request{method: http.MethodGet, header: http.Header{}, host: host, retryable: true, scopes: []string{"registry:catalog:*"}}
	base := fmt.Sprintf("%s://%s/v2/_catalog", c.scheme(host), host)
	return c.list(ctx, q, base, host+": catalog", pageSize, MaxRepositories, func(b []byte) ([]string, error) {
		return parseCatalogPage(b, host)
	})
}

// parseCatalogPage decodes one page of the catalog of host.
func parseCatalogPage(b []byte, host string) ([]string, error) {
	var page struct {
		Repositories []string `json:"repositories"`
	}
	if err := decodePage(b, &page); err != nil {
		return nil, err
	}
	for _, name := range page.Repositories {
		if err := validRepoName(host, name); err != nil {
			return nil, err
		}
	}
	return page.Repositories, nil
}

// validRepoName checks a repository path as the catalog gives it: a name
// docker's grammar accepts under host, and nothing more (no tag, digest or
// other host).
func validRepoName(host, name string) error {
	n, err := reference.ParseNamed(host + "/" + name)
	if err != nil || n.Name() != host+"/"+name {
		return fmt.Errorf("%q is not a repository name", name)
	}
	return nil
}

// decodePage decodes one page strictly: a single object, no key twice,
// no field the spec does not define.
func decodePage(b []byte, v any) error {
	if err := layout.StrictJSON(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("data after the page")
	}
	return nil
}

// list fetches pages from base until the registry stops sending a Link to
// the next one. The next page's URL is ferry's own (base with n and the
// Link's last), never the registry's text: a Link may point anywhere, and
// following it would carry the credentials there. Every name must be new
// (a list that comes round again is a loop), and limit bounds the total.
func (c *Client) list(ctx context.Context, q request, base, label string, pageSize, limit int, decode func([]byte) ([]string, error)) ([]string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	var out []string
	seen := map[string]bool{}
	last := ""
	for page := 1; ; page++ {
		v := url.Values{"n": {strconv.Itoa(pageSize)}}
		if last != "" {
			v.Set("last", last)
		}
		q.url = base + "?" + v.Encode()
		b, link, err := c.getPage(ctx, q, label)
		if err != nil {
			return nil, err
		}
		names, err := decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s, page %d: %w: %v", label, page, layout.ErrInvalid, err)
		}
		for _, n := range names {
			if seen[n] {
				return nil, fmt.Errorf("%s, page %d: %w: %q was on an earlier page (the registry's list does not advance)", label, page, layout.ErrInvalid, n)
			}
			seen[n] = true
			if len(out) == limit {
				return nil, fmt.Errorf("%s: %w: more than %d entries", label, layout.ErrTooLarge, limit)
			}
			out = append(out, n)
		}
		if link == "" {
			return out, nil
		}
		next, err := nextLast(link)
		if err != nil {
			return nil, fmt.Errorf("%s, page %d: %w: Link header %q: %v", label, page, layout.ErrInvalid, link, err)
		}
		if next == last || len(names) == 0 {
			return nil, fmt.Errorf("%s, page %d: %w: the Link header points at the page just read (the registry's list does not advance)", label, page, layout.ErrInvalid)
		}
		last = next
	}
}

// getPage fetches one page, capped, and the Link header that leads on.
func (c *Client) getPage(ctx context.Context, q request, label string) ([]byte, string, error) {
	q.header = http.Header{"Accept": {"application/json"}}
	resp, err := c.do(ctx, q)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s: %w", label, newRegistryError(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxListPage+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", label, err)
	}
	if len(b) > MaxListPage {
		return nil, "", fmt.Errorf("%s: %w: a page of more than %d bytes", label, layout.ErrTooLarge, MaxListPage)
	}
	links := resp.Header.Values("Link")
	if len(links) > 1 {
		return nil, "", fmt.Errorf("%s: %w: %d Link headers", label, layout.ErrInvalid, len(links))
	}
	if len(links) == 1 {
		return b, links[0], nil
	}
	return b, "", nil
}

// nextLast reads the last parameter of a Link header's rel="next" target,
// the one thing ferry takes from it.
func nextLast(h string) (string, error) {
	target, params, ok := strings.Cut(strings.TrimSpace(h), ";")
	target = strings.TrimSpace(target)
	if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
		return "", fmt.Errorf("not <URL>; rel=\"next\"")
	}
	next := false
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
			next = true
		}
	}
	if !next {
		return "", fmt.Errorf("no rel=\"next\"")
	}
	u, err := url.Parse(target[1 : len(target)-1])
	if err != nil {
		return "", err
	}
	last := u.Query()["last"]
	if len(last) != 1 || last[0] == "" {
		return "", fmt.Errorf("the next page's URL has no last parameter")
	}
	return last[0], nil
}
