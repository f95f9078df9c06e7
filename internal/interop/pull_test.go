//go:build interop

package interop

import "path/filepath"

// puller is a column of the save matrix: one engine pulling back, from
// the registry, what ferry pushed. Debian 12's and the newest of docker
// and podman pull (docker 26 and podman's other versions share their
// code paths for a pull); skopeo hashes the manifests the registry serves,
// which no version changes.
type puller struct {
	col, engine string
	// pull checks exps; store names private state for the row (podman).
	pull func(c *cell, e *engine, store string, exps []*expect)
}

var pullers = []puller{
	{"docker 20.10 pull", "docker 20.10", pullDocker},
	{"docker 29 pull", "docker 29", pullDocker},
	{"podman 4.3 pull", "podman 4.3", pullPodman},
	{"podman 5.4 pull", "podman 5.4", pullPodman},
	{"skopeo inspect", "skopeo 1.9", pullSkopeo},
}

// pushedOnly lists what ferry pushed; with nothing pushed the cell is n/a.
func pushedOnly(c *cell, exps []*expect) []*expect {
	var out []*expect
	for _, x := range exps {
		if x.ref != "" {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		c.notApplicable("nothing was pushed")
	}
	return out
}

// pullFerry pulls every pushed image back into one archive: the digests
// and platforms are those pushed, and the archive verifies.
func pullFerry(c *cell, dir string, exps []*expect) {
	xs := pushedOnly(c, exps)
	if len(xs) == 0 {
		return
	}
	out := filepath.Join(dir, "pulled.tar")
	args := []string{"pull", "--to", out, "--json"}
	for _, x := range xs {
		args = append(args, x.ref)
	}
	var res []struct {
		Source    string   `json:"source"`
		Digest    string   `json:"digest"`
		Platforms []string `json:"platforms"`
	}
	if !ferryJSON(c, &res, args...) {
		return
	}
	for _, x := range xs {
		found := false
		for _, r := range res {
			if r.Source == x.ref {
				found = true
				c.check(r.Digest == x.digest, "ferry pull %s: %s, want %s", x.ref, r.Digest, x.digest)
				c.check(sameSet(r.Platforms, x.platforms), "ferry pull %s: platforms %v, want %v", x.ref, r.Platforms, x.platforms)
			}
		}
		c.check(found, "ferry pull does not report %s", x.ref)
	}
	var rep verifyReport
	ferryJSON(c, &rep, "verify", out, "--json")
	c.check(rep.OK && len(rep.Problems) == 0, "ferry verify of what ferry pulled: ok=%v, problems %v", rep.OK, rep.Problems)
}

// pullDocker pulls each pushed image with e's shared "pull" dockerd (it
// treats 127.0.0.0/8 as an insecure registry by default): the repository
// digest docker records is the one ferry pushed, the image ID the config
// (with the containerd store: the digest pulled).
func pullDocker(c *cell, e *engine, _ string, exps []*expect) {
	dk := docker(c.t, e, "pull")
	for _, x := range pushedOnly(c, exps) {
		if _, ok := c.run(dk, "pull", "-q", x.ref); !ok {
			continue
		}
		got, ok := dockerInspect(c, dk, x.ref)
		if !ok {
			continue
		}
		c.check(contains(got.RepoDigests, x.repo+"@"+x.digest), "%s pull %s: RepoDigests %v lack %s@%s", e.name, x.ref, got.RepoDigests, x.repo, short(x.digest))
		want := x.config
		if e.containerdStore {
			want = x.digest
		}
		c.check(got.ID == want, "%s pull %s: image ID %s, want %s", e.name, x.ref, got.ID, want)
	}
}

// pullPodman pulls into a store of the row's own, so that digests podman
// recorded for other rows cannot stand in for these.
func pullPodman(c *cell, e *engine, store string, exps []*expect) {
	pm := podman(c.t, e, "pull-"+store)
	for _, x := range pushedOnly(c, exps) {
		if _, ok := c.run(pm, "pull", "-q", "--tls-verify=false", x.ref); !ok {
			continue
		}
		got, ok := podmanInspect(c, pm, x.ref)
		if !ok {
			continue
		}
		c.check(contains(got.RepoDigests, x.repo+"@"+x.digest), "%s pull %s: RepoDigests %v lack %s@%s", e.name, x.ref, got.RepoDigests, x.repo, short(x.digest))
		c.check("sha256:"+got.ID == x.config, "%s pull %s: image ID %s, want the config digest %s", e.name, x.ref, got.ID, x.config)
	}
}

// pullSkopeo fetches each manifest as the registry stores it and hashes it.
func pullSkopeo(c *cell, e *engine, _ string, exps []*expect) {
	sk := skopeo(c.t, e)
	for _, x := range pushedOnly(c, exps) {
		got, ok := skopeoDigest(c, sk, x.ref)
		if ok {
			c.check(got == x.digest, "skopeo inspect --raw docker://%s: the registry serves %s, want %s", x.ref, got, x.digest)
		}
	}
}
