//go:build interop

package interop

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// served is a `ferry serve` process over an archive ferry exported.
type served struct {
	host string
	cmd  *exec.Cmd
	log  *strings.Builder
	done chan error
}

// startServe exports the standard test set into a tar with the ferry
// binary under test and serves it in place on a free loopback port.
func startServe(t *testing.T) (*served, *testimage.Set) {
	set := testimage.New(t)
	archive := filepath.Join(t.TempDir(), "images.tar")
	if _, err := ferryTool().run(t, append([]string{"export", set.Dir}, append(set.Names, "--to", archive)...)...); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(suite.ferry, "serve", archive, "--addr", "127.0.0.1:0", "--json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, log: &strings.Builder{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.log.WriteString(line + "\n")
			if strings.Contains(line, `"event":"listening"`) {
				i := strings.Index(line, `"addr":"`)
				if i >= 0 {
					rest := line[i+len(`"addr":"`):]
					addr <- rest[:strings.IndexByte(rest, '"')]
				}
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.host = <-addr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ferry serve did not start:\n%s", s.log)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("ferry serve after SIGTERM: %v", err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Errorf("ferry serve did not stop on SIGTERM")
		}
		t.Logf("ferry serve log:\n%s", s.log)
	})
	resp, err := http.Get("http://" + s.host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return s, set
}

// TestServeEngines: every docker, podman, ctr and skopeo pulls from
// `ferry serve` over an exported archive, by the short and the full
// repository name, and records the digests ferry stored.
func TestServeEngines(t *testing.T) {
	t.Parallel()
	s, set := startServe(t)
	busybox := set.Single.Manifest.Digest.String()
	app := set.Index.Digest.String()
	type pull struct{ ref, repo, digest, config string }
	pulls := []pull{
		{s.host + "/library/busybox:1.36", s.host + "/library/busybox", busybox, set.Single.Config.Digest.String()},
		{s.host + "/docker.io/library/busybox:latest", s.host + "/docker.io/library/busybox", busybox, set.Single.Config.Digest.String()},
		{s.host + "/example.com/app:v1", s.host + "/example.com/app", app, set.AMD64.Config.Digest.String()},
	}
	for _, e := range engines {
		t.Run(e.slug, func(t *testing.T) {
			t.Parallel()
			c := &cell{t: t}
			switch e.kind {
			case "docker":
				dk := docker(t, e, "serve")
				for _, p := range pulls {
					if _, ok := c.run(dk, "pull", "-q", "--platform", "linux/amd64", p.ref); !ok {
						continue
					}
					got, ok := dockerInspect(c, dk, p.ref)
					if !ok {
						continue
					}
					c.check(contains(got.RepoDigests, p.repo+"@"+p.digest), "%s pull %s: RepoDigests %v lack %s", e.name, p.ref, got.RepoDigests, short(p.digest))
					want := p.config
					if e.containerdStore {
						want = p.digest
					}
					c.check(got.ID == want, "%s pull %s: image ID %s, want %s", e.name, p.ref, got.ID, want)
				}
			case "podman":
				pm := podman(t, e, "serve")
				for _, p := range pulls {
					if _, ok := c.run(pm, "pull", "-q", "--tls-verify=false", "--platform", "linux/amd64", p.ref); !ok {
						continue
					}
					got, ok := podmanInspect(c, pm, p.ref)
					if !ok {
						continue
					}
					c.check(contains(got.RepoDigests, p.repo+"@"+p.digest), "%s pull %s: RepoDigests %v lack %s", e.name, p.ref, got.RepoDigests, short(p.digest))
					c.check("sha256:"+got.ID == p.config, "%s pull %s: image ID %s, want %s", e.name, p.ref, got.ID, p.config)
				}
			case "ctr":
				ct := ctr(t, e, "serve")
				for _, p := range pulls {
					c.run(ct, "images", "pull", "--plain-http", "--all-platforms", p.ref)
				}
				ims, ok := ctrImages(c, ct)
				if !ok {
					break
				}
				for _, p := range pulls {
					im, found := ims[p.ref]
					if c.check(found, "%s: %s not in ctr images ls", e.name, p.ref) {
						c.check(im.digest == p.digest, "%s pull %s: %s, want %s", e.name, p.ref, im.digest, p.digest)
						c.check(strings.HasPrefix(im.status, "complete"), "%s pull %s: %s", e.name, p.ref, im.status)
					}
				}
			case "skopeo":
				sk := skopeo(t, e)
				for _, p := range pulls {
					if got, ok := skopeoDigest(c, sk, p.ref); ok {
						c.check(got == p.digest, "skopeo inspect --raw docker://%s: %s, want %s", p.ref, got, p.digest)
					}
				}
				// A whole copy: every blob through skopeo's own digest checks,
				// then ferry verifies what it wrote.
				dir := filepath.Join(t.TempDir(), "copied")
				if _, ok := c.run(sk, "copy", "--all", "--src-tls-verify=false", "docker://"+pulls[2].ref, "oci:"+dir+":v1"); ok {
					var rep verifyReport
					if ferryJSON(c, &rep, "verify", dir, "--json") {
						c.check(rep.OK && len(rep.Problems) == 0, "ferry verify of what skopeo copied from ferry serve: ok=%v %v", rep.OK, rep.Problems)
					}
				}
			}
			for _, f := range c.fails {
				t.Error(f)
			}
			recordServe(e, c)
			if c.na != "" {
				t.Skip(c.na)
			}
		})
	}
}

// What each engine made of ferry serve, for docs/COMPATIBILITY.md.
var serveOutcomes = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func recordServe(e *engine, c *cell) {
	o := "pulled by short and full name, digests and image IDs as stored"
	if e.kind == "skopeo" {
		o = "inspected by short and full name, digests as stored; a copy --all verifies"
	}
	switch {
	case len(c.fails) > 0:
		o = "**failed**: " + clip(firstLine(c.fails[0]), 120)
	case c.na != "":
		o = "not run: " + c.na
	}
	serveOutcomes.Lock()
	serveOutcomes.m[e.name] = o
	serveOutcomes.Unlock()
}

// serveSection renders what the engines did with ferry serve.
func serveSection() string {
	serveOutcomes.Lock()
	defer serveOutcomes.Unlock()
	if len(serveOutcomes.m) == 0 {
		return ""
	}
	var rows [][]string
	for _, e := range engines {
		if o, ok := serveOutcomes.m[e.name]; ok {
			rows = append(rows, []string{e.name, o})
		}
	}
	return fmt.Sprintf("## Pulling from ferry serve (serve)\n\n%s\n", table([]string{"engine", "ferry serve over an exported archive"}, rows))
}
