package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// TestAppsShareNoFlags: urfave/cli keeps parse state inside flag values,
// so no flag value may be shared between two Apps.
func TestAppsShareNoFlags(t *testing.T) {
	seen := map[cli.Flag]string{}
	for i, app := range []*cli.App{newApp(nil, nil, nil), newApp(nil, nil, nil)} {
		for _, c := range app.Commands {
			for _, f := range c.Flags {
				if where, ok := seen[f]; ok {
					t.Errorf("app %d: ferry %s --%s is the same value as %s's", i, c.Name, f.Names()[0], where)
				}
				seen[f] = c.Name
			}
		}
	}
}

// TestInProcessRunsDoNotLeak: two runs in one process, one after the
// other and then at once (the race detector watches), see only their own
// flags.
func TestInProcessRunsDoNotLeak(t *testing.T) {
	set := testimage.New(t)
	export := func(t *testing.T, args ...string) (filtered []string) {
		code, out, errs := ferry(t, append([]string{"export", set.Dir, "--json", "--to", filepath.Join(t.TempDir(), "a.tar")}, args...)...)
		if code != 0 {
			t.Fatalf("export %v: %s", args, errs)
		}
		var res struct{ Filtered []string }
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res.Filtered
	}
	if f := export(t, "--platform", "linux/arm64"); len(f) != 1 || !strings.HasPrefix(f[0], "linux/amd64 ") {
		t.Fatalf("--platform linux/arm64 left out %v", f)
	}
	if f := export(t); len(f) != 0 {
		t.Fatalf("a run without --platform left out %v: the previous run's flag leaked", f)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if i%2 == 0 {
				if f := export(t, "--platform", "linux/arm64", "--format", "oci"); len(f) != 1 {
					t.Errorf("concurrent run with --platform left out %v", f)
				}
			} else if f := export(t); len(f) != 0 {
				t.Errorf("concurrent run without --platform left out %v", f)
			}
		})
	}
	wg.Wait()
}

// TestCopyPrintsJSONOnlyWithJSON: copy's human output is a sentence, and
// --json gives one JSON document and nothing else.
func TestCopyPrintsJSONOnlyWithJSON(t *testing.T) {
	set := testimage.New(t)
	dst := filepath.Join(t.TempDir(), "c.tar")
	code, out, errs := ferry(t, "copy", set.Dir, dst)
	if code != 0 || strings.Contains(out, "{") || !strings.HasPrefix(out, "copied ") || !strings.Contains(out, "example.com/app:v1  "+set.Index.Digest.String()) {
		t.Fatalf("copy without --json: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = ferry(t, "copy", set.Dir, dst, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["path"] != dst {
		t.Fatalf("copy --json is not one JSON document: %v\n%s", err, out)
	}
}
