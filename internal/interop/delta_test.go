//go:build interop

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// A delta archive must never pose as a full one: an engine given one must
// refuse it, alone or after release 1, never load an image with a hole in
// it (docker's containerd store skips missing content, so a delta with a
// 1.0.0 oci-layout loaded there without a word). What each one says is
// recorded for docs/COMPATIBILITY.md.
var deltaOutcomes = struct {
	sync.Mutex
	m map[string]map[string]string // engine name → scenario → outcome
}{m: map[string]map[string]string{}}

const (
	deltaAlone  = "delta alone"
	deltaOnBase = "delta after release 1"
)

func recordDelta(e *engine, scenario, outcome string) {
	deltaOutcomes.Lock()
	defer deltaOutcomes.Unlock()
	if deltaOutcomes.m[e.name] == nil {
		deltaOutcomes.m[e.name] = map[string]string{}
	}
	deltaOutcomes.m[e.name][scenario] = outcome
}

// deltaFiles are release 1 in full (app:v1) and a delta of release 2
// (app:v2) cut against release 1's have-list, both written by the ferry
// binary under test.
type deltaFiles struct {
	full, delta string
	leftOut     []string // hex of the blobs the delta left out
}

func makeDeltaFiles(t *testing.T) *deltaFiles {
	r := testimage.TwoReleases(t)
	dir := t.TempDir()
	have := filepath.Join(dir, "have.json")
	f, err := os.Create(have)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Have.Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	df := &deltaFiles{full: filepath.Join(dir, "r1.tar"), delta: filepath.Join(dir, "r2-delta.tar")}
	fy := ferryTool()
	if _, err := fy.run(t, "export", r.R1, "example.com/app:v1", "--to", df.full); err != nil {
		t.Fatal(err)
	}
	if _, err := fy.run(t, "export", r.R2, r.V2Ref, "--to", df.delta, "--have", have); err != nil {
		t.Fatal(err)
	}
	a := r.Set.AMD64
	for _, d := range []string{a.Manifest.Digest.Encoded(), a.Config.Digest.Encoded(), a.Layer.Digest.Encoded()} {
		df.leftOut = append(df.leftOut, d)
	}
	return df
}

// TestDeltaEngines gives every docker, podman and ctr a delta, alone and
// after release 1.
func TestDeltaEngines(t *testing.T) {
	t.Parallel()
	df := makeDeltaFiles(t)
	for _, e := range engines {
		if e.kind != "docker" && e.kind != "podman" && e.kind != "ctr" {
			continue
		}
		t.Run(e.slug, func(t *testing.T) {
			t.Parallel()
			var load func(t *testing.T, scenario, archive string) error
			var reset func(t *testing.T)
			switch e.kind {
			case "docker":
				dk := docker(t, e, "delta")
				reset = func(t *testing.T) {
					if ids, err := dk.run(t, "images", "-aq", "--no-trunc"); err == nil && strings.TrimSpace(ids) != "" {
						dk.run(t, append([]string{"rmi", "-f"}, uniqFields(ids)...)...)
					}
					dk.run(t, "rmi", "-f", "example.com/app:v1", "example.com/app:v2")
				}
				load = func(t *testing.T, _, archive string) error {
					_, err := dk.run(t, "load", "-i", archive)
					return err
				}
			case "podman":
				pm := map[string]*tool{deltaAlone: podman(t, e, "delta-alone"), deltaOnBase: podman(t, e, "delta-base")}
				reset = func(*testing.T) {}
				load = func(t *testing.T, scenario, archive string) error {
					_, err := pm[scenario].run(t, "load", "-i", archive)
					return err
				}
			case "ctr":
				cs := map[string]*tool{deltaAlone: ctr(t, e, "delta-alone"), deltaOnBase: ctr(t, e, "delta-base")}
				reset = func(*testing.T) {}
				load = func(t *testing.T, scenario, archive string) error {
					_, err := cs[scenario].run(t, "images", "import", "--all-platforms", archive)
					return err
				}
			}
			reset(t)
			err := load(t, deltaAlone, df.delta)
			if err == nil {
				recordDelta(e, deltaAlone, "**loaded**")
				t.Errorf("%s loaded a delta archive alone: an image with blobs missing", e.name)
			} else {
				t.Logf("%s: %v", deltaAlone, err)
				recordDelta(e, deltaAlone, "refused: "+deltaReason(err, df.leftOut))
			}
			reset(t)
			if err := load(t, deltaOnBase, df.full); err != nil {
				recordDelta(e, deltaOnBase, "release 1 did not load: "+firstLine(err.Error()))
				t.Fatalf("%s: release 1 (a full archive) did not load: %v", e.name, err)
			}
			if err := load(t, deltaOnBase, df.delta); err != nil {
				recordDelta(e, deltaOnBase, "refused: "+deltaReason(err, df.leftOut))
			} else {
				recordDelta(e, deltaOnBase, "**loaded**")
				t.Errorf("%s loaded a delta archive: only ferry import or push may complete one", e.name)
			}
		})
	}
}

// deltaReason is the gist of an engine's refusal: the left-out blob it
// names, with what it said of it, or its first line of error.
var tmpPath = regexp.MustCompile(`/\S*/((?:blobs/\S*)|index\.json|manifest\.json|oci-layout)`)

func deltaReason(err error, leftOut []string) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	for _, d := range leftOut {
		if i := strings.Index(msg, d); i >= 0 {
			rest, _, _ := strings.Cut(msg[i+len(d):], "\n")
			return fmt.Sprintf("fails on left-out blob sha256:%s…%s", d[:12], clip(rest, 60))
		}
	}
	for _, l := range strings.Split(msg, "\n") {
		if !strings.Contains(l, "level=warning") && strings.TrimSpace(l) != "" {
			msg = l
			break
		}
	}
	msg = strings.TrimPrefix(msg, "exit status 1: ")
	// A path of the run's own (docker-import-NNN) would change the
	// report every run: keep what lies under the archive's root.
	msg = tmpPath.ReplaceAllString(msg, "…/$1")
	msg = strings.ReplaceAll(firstLine(msg), "|", "\\|")
	for _, p := range []string{suite.root, os.TempDir()} {
		msg = strings.ReplaceAll(msg, p, "…")
	}
	return clip(msg, 160)
}

// deltaSection renders what the engines did with a delta, for the report.
func deltaSection() string {
	deltaOutcomes.Lock()
	defer deltaOutcomes.Unlock()
	if len(deltaOutcomes.m) == 0 {
		return ""
	}
	var rows [][]string
	for _, e := range engines {
		if o, ok := deltaOutcomes.m[e.name]; ok {
			rows = append(rows, []string{e.name, o[deltaAlone], o[deltaOnBase]})
		}
	}
	return fmt.Sprintf("## What engines do with a delta archive (delta)\n\n%s\n", table([]string{"engine", deltaAlone, deltaOnBase}, rows))
}
