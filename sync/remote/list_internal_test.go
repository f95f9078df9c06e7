package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oci-ferry/ferry/layout"
)

// listServer answers tags and catalog requests with page(n, last), and
// counts the requests.
func listServer(t *testing.T, page func(w http.ResponseWriter, r *http.Request, n int, last string)) (*Client, string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		hits.Add(1)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		page(w, r, n, r.URL.Query().Get("last"))
	}))
	t.Cleanup(srv.Close)
	return &Client{Retries: 1}, strings.TrimPrefix(srv.URL, "http://"), &hits
}

func repoOf(c *Client, host, name string) *Repository {
	return c.Repository(layout.Ref{Repo: host + "/" + name}, false)
}

// TestTagsNeverEnding: a registry that always has one more page of new
// tags is stopped at MaxTags with a clear error, not followed forever.
func TestTagsNeverEnding(t *testing.T) {
	c, host, hits := listServer(t, func(w http.ResponseWriter, r *http.Request, n int, last string) {
		k, _ := strconv.Atoi(strings.TrimPrefix(last, "t"))
		var tags []string
		for i := range n {
			tags = append(tags, fmt.Sprintf("t%09d", k+i+1))
		}
		w.Header().Set("Link", fmt.Sprintf(`</v2/app/tags/list?n=%d&last=%s>; rel="next"`, n, tags[len(tags)-1]))
		fmt.Fprintf(w, `{"name":"app","tags":["%s"]}`, strings.Join(tags, `","`))
	})
	_, err := repoOf(c, host, "app").Tags(context.Background(), 1000)
	if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "tags list") || !strings.Contains(err.Error(), host+"/app") {
		t.Fatalf("err = %v", err)
	}
	if want := int64(MaxTags/1000 + 1); hits.Load() != want {
		t.Fatalf("%d requests, want %d", hits.Load(), want)
	}
}

// TestTagsLoop: a Link that leads back to a page already read is caught
// at once, whether it repeats names or points at the same last.
func TestTagsLoop(t *testing.T) {
	for name, link := range map[string]string{
		"same last":     `</v2/app/tags/list?n=2&last=b>; rel="next"`,
		"back to start": `</v2/app/tags/list?n=2&last=0>; rel="next"`,
	} {
		t.Run(name, func(t *testing.T) {
			c, host, hits := listServer(t, func(w http.ResponseWriter, r *http.Request, n int, last string) {
				w.Header().Set("Link", link)
				fmt.Fprint(w, `{"name":"app","tags":["a","b"]}`)
			})
			_, err := repoOf(c, host, "app").Tags(context.Background(), 2)
			if !errors.Is(err, layout.ErrInvalid) || !strings.Contains(err.Error(), "does not advance") {
				t.Fatalf("err = %v", err)
			}
			if hits.Load() > 2 {
				t.Fatalf("%d requests for a loop", hits.Load())
			}
		})
	}
}

// TestCatalogHugePage: a page over MaxListPage is refused after reading
// no more than the cap.
func TestCatalogHugePage(t *testing.T) {
	c, host, _ := listServer(t, func(w http.ResponseWriter, r *http.Request, n int, last string) {
		if r.URL.Path != "/v2/_catalog" {
			t.Errorf("asked %s", r.URL)
		}
		fmt.Fprint(w, `{"repositories":["a"`)
		chunk := strings.Repeat(`,"x"`, 1<<16)
		for range 2 * MaxListPage / len(chunk) {
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return
			}
		}
		fmt.Fprint(w, `]}`)
	})
	_, err := c.Catalog(context.Background(), host, 0)
	if !errors.Is(err, layout.ErrTooLarge) || !strings.Contains(err.Error(), "catalog") {
		t.Fatalf("err = %v", err)
	}
}

// TestListFollowsOnlyItsOwnURL: a Link naming another host or path is
// read for its last parameter only; the next request goes to the same
// registry and endpoint, so credentials never leave it.
func TestListFollowsOnlyItsOwnURL(t *testing.T) {
	var paths []string
	c, host, _ := listServer(t, func(w http.ResponseWriter, r *http.Request, n int, last string) {
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		if last == "" {
			w.Header().Set("Link", `<https://evil.example/v2/other/tags/list?last=b&n=9>; rel="next"`)
			fmt.Fprint(w, `{"name":"app","tags":["a","b"]}`)
			return
		}
		fmt.Fprint(w, `{"name":"app","tags":["c"]}`)
	})
	tags, err := repoOf(c, host, "app").Tags(context.Background(), 2)
	if err != nil || strings.Join(tags, ",") != "a,b,c" {
		t.Fatalf("%v %v", tags, err)
	}
	if len(paths) != 2 || paths[1] != "/v2/app/tags/list?last=b&n=2" {
		t.Fatalf("requests %v", paths)
	}
}

// TestListPagesStrict: each malformed page is refused naming the page.
func TestListPagesStrict(t *testing.T) {
	for _, tc := range []struct{ name, body, link string }{
		{"unknown field", `{"name":"app","tags":["a"],"more":true}`, ""},
		{"key twice", `{"name":"app","tags":["a"],"tags":["b"]}`, ""},
		{"other repository", `{"name":"other","tags":["a"]}`, ""},
		{"not a tag", `{"name":"app","tags":["a/b"]}`, ""},
		{"trailing data", `{"name":"app","tags":["a"]} {}`, ""},
		{"empty page with a next", `{"name":"app","tags":[]}`, `</v2/app/tags/list?last=a>; rel="next"`},
		{"link without last", `{"name":"app","tags":["a"]}`, `</v2/app/tags/list?n=1>; rel="next"`},
		{"link not next", `{"name":"app","tags":["a"]}`, `</v2/app/tags/list?last=a>; rel="prev"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, host, _ := listServer(t, func(w http.ResponseWriter, r *http.Request, n int, last string) {
				if tc.link != "" {
					w.Header().Set("Link", tc.link)
				}
				fmt.Fprint(w, tc.body)
			})
			_, err := repoOf(c, host, "app").Tags(context.Background(), 0)
			if !errors.Is(err, layout.ErrInvalid) || !strings.Contains(err.Error(), "page 1") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzListPages: the page and Link parsers never panic, and what they
// accept holds only names of the right grammar, each once per page at
// most as given.
func FuzzListPages(f *testing.F) {
	f.Add([]byte(`{"name":"app","tags":["a","b"]}`), `</v2/app/tags/list?n=2&last=b>; rel="next"`)
	f.Add([]byte(`{"repositories":["team/app","x"]}`), `<?last=x>;rel=next`)
	f.Add([]byte(`{"name":"app","tags":null}`), ``)
	f.Fuzz(func(t *testing.T, b []byte, link string) {
		if tags, err := parseTagsPage(b, "app"); err == nil {
			for _, tag := range tags {
				if !tagRe.MatchString(tag) {
					t.Fatalf("accepted tag %q", tag)
				}
			}
		}
		if repos, err := parseCatalogPage(b, "127.0.0.1:5000"); err == nil {
			for _, r := range repos {
				if validRepoName("127.0.0.1:5000", r) != nil {
					t.Fatalf("accepted repository %q", r)
				}
			}
		}
		if last, err := nextLast(link); err == nil && last == "" {
			t.Fatal("accepted an empty last")
		}
	})
}
