package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestHaveAllWhileUpdated: `ferry have --all` of a registry from which a
// tag and a repository are deleted while it runs (between the tag list
// and the tag's HEAD, between the catalog and the tag list) writes the
// list of the rest, and says what it left out on stderr and in --json.
func TestHaveAllWhileUpdated(t *testing.T) {
	reg := regtest.Start(t)
	set := testimage.New(t)
	if code, out, errs := ferry(t, "push", set.Dir, "example.com/app:v1", "busybox:1.36", "--to", reg.Host+"/team"); code != 0 {
		t.Fatalf("seed push: %s %s", out, errs)
	}
	if code, out, errs := ferry(t, "copy", "docker://"+reg.Host+"/team/app:v1", "docker://"+reg.Host+"/team/app:v2"); code != 0 {
		t.Fatalf("seed v2: %s %s", out, errs)
	}
	change := func(fn func() error) func(*http.Request) {
		return func(*http.Request) {
			if err := fn(); err != nil {
				t.Error(err)
			}
		}
	}
	proxy := regtest.NewProxy(t, reg,
		regtest.Fault{Method: http.MethodHead, Path: "/v2/team/app/manifests/v1", Times: 1,
			Before: change(func() error { return reg.DeleteTag("team/app", "v1") })},
		regtest.Fault{Method: http.MethodGet, Path: "/v2/team/library/busybox/tags/list", Times: 1,
			Before: change(func() error { return reg.RemoveRepository("team/library/busybox") })})
	list := filepath.Join(t.TempDir(), "have.json")
	for _, asJSON := range []bool{false, true} {
		args := []string{"have", "--all", proxy.Host, "--to", list}
		if asJSON {
			args = append(args, "--json")
			// Both are gone now; a second run finds the registry as it is.
			proxy = regtest.NewProxy(t, reg,
				regtest.Fault{Method: http.MethodHead, Path: "/v2/team/app/manifests/v2", Times: 1,
					Before: change(func() error { return reg.DeleteTag("team/app", "v2") })})
			args[2] = proxy.Host
		}
		code, stdout, errs := ferry(t, args...)
		if code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, stdout, errs)
		}
		if !asJSON {
			for _, w := range []string{proxy.Host + "/team/app:v1: the tag list named it, but it was gone", proxy.Host + "/team/library/busybox: the catalog listed it, but it was gone"} {
				if !strings.Contains(errs, "note: left out") || !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
			if !strings.Contains(stdout, "1 name(s)") {
				t.Errorf("stdout %q: want the one name left", stdout)
			}
			continue
		}
		var sum haveSummary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("%s: %v", stdout, err)
		}
		if sum.Images != 0 || len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0], proxy.Host+"/team/app:v2: the tag list named it, but it was gone") {
			t.Errorf("--json %+v", sum)
		}
	}
}
