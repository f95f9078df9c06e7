//go:build interop

package interop

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
)

// What each engine says about an image it holds.

// dockerImage is what the suite reads of `docker image inspect`.
type dockerImage struct {
	ID           string `json:"Id"`
	RepoTags     []string
	RepoDigests  []string
	Os           string
	Architecture string
}

// dockerInspect returns what docker knows of ref, or false (recorded).
func dockerInspect(c *cell, dk *tool, ref string) (dockerImage, bool) {
	out, ok := c.run(dk, "image", "inspect", ref)
	if !ok {
		return dockerImage{}, false
	}
	var ims []dockerImage
	if err := json.Unmarshal([]byte(out), &ims); err != nil || len(ims) != 1 {
		c.failf("docker image inspect %s: unexpected output (%v): %s", ref, err, clip(out, 300))
		return dockerImage{}, false
	}
	return ims[0], true
}

// podmanImage is what the suite reads of `podman image inspect`.
type podmanImage struct {
	ID           string `json:"Id"`
	Digest       string
	RepoTags     []string
	RepoDigests  []string
	Os           string
	Architecture string
}

// podmanInspect returns what podman knows of ref, or false (recorded).
func podmanInspect(c *cell, pm *tool, ref string) (podmanImage, bool) {
	out, ok := c.run(pm, "image", "inspect", ref)
	if !ok {
		return podmanImage{}, false
	}
	var ims []podmanImage
	if err := json.Unmarshal([]byte(out), &ims); err != nil || len(ims) != 1 {
		c.failf("podman image inspect %s: unexpected output (%v): %s", ref, err, clip(out, 300))
		return podmanImage{}, false
	}
	return ims[0], true
}

// ctrImage is a line of `ctr images ls` joined with `ctr images check`.
type ctrImage struct {
	mediaType, digest string
	platforms         []string
	status            string // complete (n/n) / incomplete …
	unpacked          string
}

// ctrImages lists a namespace: name → image.
func ctrImages(c *cell, ct *tool) (map[string]ctrImage, bool) {
	ls, ok := c.run(ct, "images", "ls")
	if !ok {
		return nil, false
	}
	check, ok := c.run(ct, "images", "check")
	if !ok {
		return nil, false
	}
	ims := map[string]ctrImage{}
	for _, line := range strings.Split(ls, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		// REF TYPE DIGEST SIZE(2 fields) PLATFORMS LABELS
		ims[f[0]] = ctrImage{mediaType: f[1], digest: f[2], platforms: strings.Split(f[len(f)-2], ",")}
	}
	for _, line := range strings.Split(check, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		// REF TYPE DIGEST STATUS(2 fields) SIZE(…) UNPACKED
		im := ims[f[0]]
		im.status, im.unpacked = f[3]+" "+f[4], f[len(f)-1]
		ims[f[0]] = im
	}
	return ims, true
}

// ctrHostConfig reads an image's root from containerd's content store and
// follows it to the linux/amd64 config.
func ctrHostConfig(c *cell, ct *tool, d string) (string, bool) {
	for depth := 0; depth < 3; depth++ {
		out, ok := c.run(ct, "content", "get", d)
		if !ok {
			return "", false
		}
		var doc struct {
			Config *struct {
				Digest string `json:"digest"`
			} `json:"config"`
			Manifests []struct {
				Digest   string `json:"digest"`
				Platform *struct {
					OS           string `json:"os"`
					Architecture string `json:"architecture"`
				} `json:"platform"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			c.failf("ctr content get %s: not a manifest or index: %v", d, err)
			return "", false
		}
		if doc.Config != nil {
			return doc.Config.Digest, true
		}
		next := ""
		for _, m := range doc.Manifests {
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
				next = m.Digest
				break
			}
		}
		if next == "" {
			c.failf("ctr content get %s: no linux/amd64 image in the index", d)
			return "", false
		}
		d = next
	}
	c.failf("ctr content get: indexes nested too deep")
	return "", false
}

// skopeoDigest fetches a manifest from the registry as stored and hashes it.
func skopeoDigest(c *cell, sk *tool, ref string) (string, bool) {
	raw, ok := c.run(sk, "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(raw))), true
}
