//go:build interop

package interop

import "path/filepath"

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

// pullDocker pulls each pushed image with the shared "pull" dockerd (it
// treats 127.0.0.0/8 as an insecure registry by default): the repository
// digest docker records is the one ferry pushed, the image ID the config.
func pullDocker(c *cell, exps []*expect) {
	dk := docker(c.t, "pull")
	for _, x := range pushedOnly(c, exps) {
		if _, ok := c.run(dk, "pull", "-q", x.ref); !ok {
			continue
		}
		got, ok := dockerInspect(c, dk, x.ref)
		if !ok {
			continue
		}
		c.check(contains(got.RepoDigests, x.repo+"@"+x.digest), "docker pull %s: RepoDigests %v lack %s@%s", x.ref, got.RepoDigests, x.repo, short(x.digest))
		c.check(got.ID == x.config, "docker pull %s: image ID %s, want the config digest %s", x.ref, got.ID, x.config)
	}
}

// pullPodman pulls into a store of the row's own, so that digests podman
// recorded for other rows cannot stand in for these.
func pullPodman(c *cell, row saveRow, exps []*expect) {
	pm := podman(c.t, "pull-"+row.slug)
	for _, x := range pushedOnly(c, exps) {
		if _, ok := c.run(pm, "pull", "-q", "--tls-verify=false", x.ref); !ok {
			continue
		}
		got, ok := podmanInspect(c, pm, x.ref)
		if !ok {
			continue
		}
		c.check(contains(got.RepoDigests, x.repo+"@"+x.digest), "podman pull %s: RepoDigests %v lack %s@%s", x.ref, got.RepoDigests, x.repo, short(x.digest))
		c.check("sha256:"+got.ID == x.config, "podman pull %s: image ID %s, want the config digest %s", x.ref, got.ID, x.config)
	}
}

// pullSkopeo fetches each manifest as the registry stores it and hashes it.
func pullSkopeo(c *cell, exps []*expect) {
	sk := skopeo(c.t)
	for _, x := range pushedOnly(c, exps) {
		got, ok := skopeoDigest(c, sk, x.ref)
		if ok {
			c.check(got == x.digest, "skopeo inspect --raw docker://%s: the registry serves %s, want %s", x.ref, got, x.digest)
		}
	}
}
