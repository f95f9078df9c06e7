//go:build interop

package interop

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// What ferry's --json outputs hold, as far as the suite reads them.

type importResult struct {
	Format string
	Images []struct {
		Name      string
		Digest    string
		Platforms []string
		Missing   []string
	}
	Notes []string
}

type lsEntry struct {
	Name      string   `json:"name"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	NameFrom  string   `json:"nameFrom"`
}

type verifyReport struct {
	OK     bool   `json:"ok"`
	Format string `json:"format"`
	Images []struct {
		Name       string   `json:"name"`
		Digest     string   `json:"digest"`
		Platforms  []string `json:"platforms"`
		Incomplete []string `json:"incomplete"`
		Status     string   `json:"status"`
	} `json:"images"`
	Problems []verifyProblem `json:"problems"`
	Warnings []verifyProblem `json:"warnings"`
}

type verifyProblem struct {
	Kind    string `json:"kind"`
	Image   string `json:"image"`
	Message string `json:"message"`
}

type pushResult struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Digest string `json:"digest"`
	// A sparse index goes out narrowed to its complete platforms: a new
	// index; SourceDigest is the original, LeftOut what was not pushed.
	SourceDigest string   `json:"sourceDigest"`
	LeftOut      []string `json:"leftOut"`
}

// ferryJSON runs ferry with args (which include --json) and decodes its
// stdout into v. A failing command is recorded in c; its stdout is still
// decoded when it is JSON (verify reports problems that way).
func ferryJSON(c *cell, v any, args ...string) bool {
	c.t.Helper()
	out, ok := c.run(ferryTool(), args...)
	if strings.TrimSpace(out) == "" {
		return false
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.failf("`ferry %s`: output is not the JSON expected: %v\n%s", strings.Join(args, " "), err, clip(out, 500))
		return false
	}
	return ok
}

// ferrySetup is for setting up: it runs ferry and decodes its JSON
// output into v (when v is not nil).
func ferrySetup(t testing.TB, v any, args ...string) error {
	t.Helper()
	out, err := ferryTool().run(t, args...)
	if err != nil {
		return err
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			return fmt.Errorf("`ferry %s`: %v\n%s", strings.Join(args, " "), err, clip(out, 500))
		}
	}
	return nil
}

// sameSet compares two platform lists as sets.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// splitTarget cuts ferry push's "host/repo:tag@sha256:…" into the
// reference to pull (by tag, or by digest when there is no tag), the
// repository and the digest.
func splitTarget(target string) (ref, repo, dgst string) {
	ref, dgst, _ = strings.Cut(target, "@")
	repo = ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo = ref[:i]
	} else {
		ref = ref + "@" + dgst
	}
	return ref, repo, dgst
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func fmtList(s []string) string { return fmt.Sprintf("[%s]", strings.Join(s, " ")) }
