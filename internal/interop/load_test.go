//go:build interop

package interop

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// shape is one kind of entry in a ferry archive: a row of the load matrix.
type shape struct {
	slug, label string
	key         string // the stock image it is about
	archive     string // "" for the multi-image archive, else the kind of archive holding it alone
}

var loadShapes = []shape{
	{"tags", "one image, two tags (busybox:1.36, :latest)", "busybox", ""},
	{"oci-index", "OCI index: amd64 + zstd arm64 + attestation", "app", ""},
	{"docker-list", "Docker manifest list (amd64 + arm/v7)", "legacy", ""},
	{"schema2", "Docker schema2 image, tag latest shared", "tool", ""},
	{"docker-save", "image converted from a docker save", "acme", ""},
	{"by-digest", "name by digest only (alpine@sha256:…)", "alpine", ""},
	{"artifact", "unnamed artifact (SBOM with a subject)", "sbom", ""},
	{"single", "archive of one entry (the OCI index alone)", "app", "single"},
	{"single-tags", "archive of one image under two tags", "busybox", "tags"},
}

// loadCells loads the format's multi-image archive once with load, then
// runs one cell per shape: check looks at what the engine made of that
// shape's image (for a shape with an archive of its own, check loads it,
// into a store of its own).
func loadCells(t *testing.T, st *stock, format, col string, load func(c *cell, archive string) bool, check func(c *cell, s shape, im *stockImage)) {
	var loadFails []string
	t.Run("load", func(t *testing.T) {
		c := &cell{t: t}
		if !load(c, st.archives[format]["multi"]) {
			loadFails = c.fails
			t.Logf("the load failed; each shape's cell below reports it (as a failure or an expected limitation):\n  %s", strings.Join(c.fails, "\n  "))
		}
	})
	for _, s := range loadShapes {
		im := st.byKey[s.key]
		loadMatrix.runCell(t, s.slug, rowKey{s.slug, format}, col, func(c *cell) {
			if s.archive == "" && loadFails != nil {
				c.fails = append(c.fails, loadFails...) // the whole load failed
				return
			}
			check(c, s, im)
		})
	}
}

// ---- docker ------------------------------------------------------------

func testDockerLoad(t *testing.T, e *engine, st *stock, format string) {
	dk := docker(t, e, "load")
	load := func(c *cell, archive string) bool {
		// Start empty, so that nothing from another format's archive
		// stands in for what this one failed to load. A containerd
		// store also keeps what docker images does not list (the
		// artifact): remove every stock digest too.
		if ids, ok := c.run(dk, "images", "-aq", "--no-trunc"); ok && strings.TrimSpace(ids) != "" {
			c.run(dk, append([]string{"rmi", "-f"}, uniqFields(ids)...)...)
		}
		if e.containerdStore {
			for _, im := range st.images {
				dk.run(c.t, "rmi", "-f", im.digest) // absent is fine
			}
		}
		_, ok := c.run(dk, "load", "-i", archive)
		return ok
	}
	// The image ID: the config digest, or with the containerd store the
	// digest of what was loaded (the index or manifest). From a
	// manifest.json alone (--format docker) containerd builds a manifest
	// of its own, whose digest nobody can know beforehand: then its
	// config must be the stock one, read from docker's containerd.
	id := func(im *stockImage) string {
		if e.containerdStore {
			return im.digest
		}
		return im.config
	}
	built := e.containerdStore && format == "docker"
	content := func(c *cell) *tool {
		return &tool{name: e.ctrd.slug + " ctr", path: locate(c.t, e.ctrd.ctr),
			pre: []string{"--address", e.ctrd.socket(c.t), "--namespace", "moby-" + e.slug + "-load"}}
	}
	loadCells(t, st, format, e.loadCol(), load, func(c *cell, s shape, im *stockImage) {
		switch {
		case s.archive != "":
			// So that the load below must bring it (by ID and by name: a
			// containerd store keeps a name whose target is gone).
			dk.run(c.t, append([]string{"rmi", "-f", id(im)}, im.names...)...)
			if !load(c, st.archives[format][s.archive]) {
				return
			}
		case s.slug == "artifact" && e.containerdStore && format != "docker":
			// containerd imports every index.json entry: docker keeps the
			// unnamed artifact as an image without a name, which docker
			// images does not list.
			got, ok := dockerInspect(c, dk, im.digest)
			if ok {
				c.check(len(got.RepoTags) == 0, "%s load: the unnamed artifact has RepoTags %v", e.name, got.RepoTags)
			}
			if ids, ok := c.run(dk, "images", "-aq", "--no-trunc"); ok {
				c.check(!strings.Contains(ids, im.digest), "%s images lists the artifact %s", e.name, short(im.digest))
			}
			return
		case s.slug == "artifact":
			_, err := dk.run(c.t, "image", "inspect", id(im))
			c.check(err != nil && strings.Contains(err.Error(), "No such image"),
				"docker made an image of the artifact (%s), or inspect failed otherwise: %v", short(id(im)), err)
			return
		case s.slug == "by-digest" && built:
			// Untagged, so only its config tells it: find it among the
			// images without a name.
			out, ok := c.run(dk, "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}")
			found := false
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(line)
				if ok && len(f) == 2 && f[1] == "<none>" {
					if cfg, ok := ctrHostConfig(c, content(c), f[0]); ok && cfg == im.config {
						found = true
						c.failf("%s loaded untagged: image %s has no name", im.names[0], short(f[0]))
					}
				}
			}
			c.check(found, "%s load: no image has the config %s of %s", e.name, short(im.config), im.names[0])
			return
		case s.slug == "by-digest":
			got, ok := dockerInspect(c, dk, id(im))
			if ok {
				c.check(len(got.RepoTags) > 0 || len(got.RepoDigests) > 0, "%s loaded untagged: image %s has no name (RepoTags %v, RepoDigests %v)", im.names[0], short(got.ID), got.RepoTags, got.RepoDigests)
			}
			return
		}
		for _, n := range im.names {
			got, ok := dockerInspect(c, dk, n)
			if !ok {
				continue
			}
			if built {
				cfg, ok := ctrHostConfig(c, content(c), got.ID)
				c.check(ok && cfg == im.config, "%s load: %s is image %s, whose config is %s, want %s", e.name, n, short(got.ID), short(cfg), short(im.config))
			} else {
				c.check(got.ID == id(im), "%s load: %s has image ID %s, want %s", e.name, n, got.ID, id(im))
			}
			c.check(contains(got.RepoTags, familiar(n)), "%s load: %s: RepoTags %v lack %s", e.name, n, got.RepoTags, familiar(n))
			c.check(got.Os+"/"+got.Architecture == "linux/amd64", "%s load: %s is %s/%s, want the host platform linux/amd64", e.name, n, got.Os, got.Architecture)
		}
	})
}

// ---- podman ------------------------------------------------------------

func testPodmanLoad(t *testing.T, e *engine, st *stock, format string) {
	pm := podman(t, e, "load-"+format)
	loadCells(t, st, format, e.loadCol(), func(c *cell, archive string) bool {
		_, ok := c.run(pm, "load", "-q", "-i", archive)
		return ok
	}, func(c *cell, s shape, im *stockImage) {
		p := pm
		switch {
		case s.archive != "":
			p = podman(c.t, e, "load-"+format+"-"+s.archive)
			if _, ok := c.run(p, "load", "-q", "-i", st.archives[format][s.archive]); !ok {
				return
			}
		case s.slug == "artifact":
			_, err := pm.run(c.t, "image", "inspect", strings.TrimPrefix(emptyConfig, "sha256:"))
			c.check(err != nil && strings.Contains(err.Error(), "image not known"),
				"podman made an image of the artifact (config %s), or inspect failed otherwise: %v", short(emptyConfig), err)
			return
		case s.slug == "by-digest":
			got, ok := podmanInspect(c, pm, strings.TrimPrefix(im.config, "sha256:"))
			if ok {
				c.check(len(got.RepoTags) > 0 || len(got.RepoDigests) > 0, "%s loaded untagged: image %s has no name (RepoTags %v, RepoDigests %v)", im.names[0], short(got.ID), got.RepoTags, got.RepoDigests)
			}
			return
		}
		for _, n := range im.names {
			got, ok := podmanInspect(c, p, n)
			if !ok {
				continue
			}
			c.check("sha256:"+got.ID == im.config, "podman load: %s has image ID %s, want the config digest %s", n, got.ID, im.config)
			c.check(contains(got.RepoTags, n), "podman load: %s: RepoTags %v lack it", n, got.RepoTags)
			c.check(got.Os+"/"+got.Architecture == "linux/amd64", "podman load: %s is %s/%s, want linux/amd64", n, got.Os, got.Architecture)
			if s.archive == "single" && format != "docker" {
				// One index.json entry takes podman's OCI path, which
				// keeps the digest (the docker format has none to keep).
				c.check(got.Digest == im.digest, "podman load: %s has digest %s, want the index digest %s", n, got.Digest, im.digest)
			}
		}
	})
}

// ---- containerd --------------------------------------------------------

func testCtrImport(t *testing.T, e *engine, st *stock, format string) {
	ct := ctr(t, e, "load-"+format)
	loadCells(t, st, format, e.loadCol(), func(c *cell, archive string) bool {
		_, ok := c.run(ct, "images", "import", archive)
		return ok
	}, func(c *cell, s shape, im *stockImage) {
		cc := ct
		if s.archive != "" {
			cc = ctr(c.t, e, "load-"+format+"-"+s.archive)
			if _, ok := c.run(cc, "images", "import", st.archives[format][s.archive]); !ok {
				return
			}
		}
		ims, ok := ctrImages(c, cc)
		if !ok {
			return
		}
		if s.slug == "artifact" {
			for n, got := range ims {
				c.check(got.digest != im.digest, "ctr import made an image %s of the unnamed artifact %s", n, short(im.digest))
			}
			return
		}
		for _, n := range im.names {
			got, ok := ims[n]
			if !c.check(ok, "ctr images import: no image named %s (have %v)", n, keys(ims)) {
				continue
			}
			if format == "docker" {
				// containerd converts manifest.json entries: new digests,
				// one platform.
				c.check(sameSet(got.platforms, []string{"linux/amd64"}), "ctr images import: %s lists platforms %v, want linux/amd64", n, got.platforms)
			} else {
				c.check(got.digest == im.digest, "ctr images import: %s is %s, want %s", n, got.digest, im.digest)
				c.check(got.mediaType == im.mediaType, "ctr images import: %s has type %s, want %s", n, got.mediaType, im.mediaType)
				for _, p := range im.platforms {
					c.check(contains(got.platforms, p), "ctr images import: %s lists platforms %v, lacking %s", n, got.platforms, p)
				}
			}
			if cfg, ok := ctrHostConfig(c, cc, got.digest); ok {
				c.check(cfg == im.config, "ctr images import: %s leads to config %s for linux/amd64, want %s", n, cfg, im.config)
			}
			c.check(got.unpacked == "true", "ctr images import: %s not unpacked for the host platform (check: %s, unpacked %s)", n, got.status, got.unpacked)
		}
	})
}

// ---- skopeo ------------------------------------------------------------

// testSkopeoCopy copies each image out of the archive into the registry:
// from an OCI archive by its ref.name with --all --preserve-digests, so
// the registry must hold the very digest; from a docker-format archive by
// its RepoTag (skopeo then writes a manifest of its own, so the config,
// the image ID, is what must survive).
func testSkopeoCopy(t *testing.T, e *engine, st *stock, format string, reg *regtest.Registry) {
	sk := skopeo(t, e)
	loadCells(t, st, format, e.loadCol(), func(c *cell, archive string) bool { return true },
		func(c *cell, s shape, im *stockImage) {
			switch {
			case s.slug == "artifact" && format == "docker":
				c.notApplicable("--format docker leaves artifacts out")
				return
			case s.slug == "artifact":
				// It has no ref.name: by its position in index.json, the
				// one way left to name it.
				path := st.archives[format]["multi"]
				o, err := readOutput(path)
				if !c.check(err == nil && o.index != nil, "%s: no index.json (%v)", path, err) {
					return
				}
				pos := -1
				for i, d := range o.index.Manifests {
					if d.Digest.String() == im.digest {
						pos = i
					}
				}
				if !c.check(pos >= 0, "%s: index.json has no entry %s (the unnamed artifact)", path, im.digest) {
					return
				}
				src := fmt.Sprintf("oci-archive:%s:@%d", path, pos)
				dst := fmt.Sprintf("%s/%s/load-%s/%s:0", reg.Host, e.slug, format, s.slug)
				if _, ok := c.run(sk, "copy", "-q", "--preserve-digests", "--dest-tls-verify=false", src, "docker://"+dst); ok {
					got, ok := skopeoDigest(c, sk, dst)
					c.check(ok && got == im.digest, "skopeo copy %s → %s: the registry holds %s, want %s", src, dst, got, im.digest)
				}
				return
			case s.slug == "schema2" && format != "docker":
				// The tag latest names two images: ferry's export says so.
				noted := false
				for _, n := range st.notes[format] {
					noted = noted || (strings.Contains(n, `"latest"`) && strings.Contains(n, im.names[0]))
				}
				c.check(noted, "ferry export did not note that tag latest names %s and another image (notes: %v)", im.names[0], st.notes[format])
			}
			for i, n := range im.names {
				src, lost, err := skopeoSource(st, format, s, im, n)
				if err != nil {
					c.failf("%v", err)
					continue
				}
				if lost != "" {
					c.failf("%s", lost) // and the image itself must still come through
				}
				dst := fmt.Sprintf("%s/%s/load-%s/%s:%d", reg.Host, e.slug, format, s.slug, i)
				flags := []string{"--all", "--preserve-digests"}
				if format == "docker" {
					flags = nil // skopeo cannot keep a digest docker-archive has not
				}
				if _, ok := c.run(sk, append(append([]string{"copy", "-q"}, flags...), "--dest-tls-verify=false", src, "docker://"+dst)...); !ok {
					continue
				}
				if format == "docker" {
					raw, ok := c.run(sk, "inspect", "--raw", "--tls-verify=false", "docker://"+dst)
					var m struct {
						Config struct{ Digest string } `json:"config"`
					}
					if ok && c.check(json.Unmarshal([]byte(raw), &m) == nil, "skopeo inspect --raw docker://%s: not a manifest: %s", dst, clip(raw, 200)) {
						c.check(m.Config.Digest == im.config, "skopeo copy %s → %s: config %s, want %s", src, dst, m.Config.Digest, im.config)
					}
					continue
				}
				got, ok := skopeoDigest(c, sk, dst)
				if !ok {
					continue
				}
				if other := st.withDigest(got); got != im.digest && other != nil {
					c.failf("skopeo copy %s: got %s, the digest of %s, which shares the tag %q; want %s", src, short(got), other.names, im.tags[n], short(im.digest))
					continue
				}
				c.check(got == im.digest, "skopeo copy %s → %s: the registry holds %s, want %s", src, dst, got, im.digest)
			}
		})
}

// skopeoSource is how skopeo names image n of the shape's archive: by
// ref.name in an OCI archive, by RepoTag in a docker-format one, by
// nothing when the archive holds one entry. An image manifest.json holds
// untagged (a name by digest) goes by its position, and lost says so.
func skopeoSource(st *stock, format string, s shape, im *stockImage, n string) (src, lost string, err error) {
	path := st.archives[format]["multi"]
	if s.archive != "" {
		path = st.archives[format][s.archive]
	}
	switch {
	case format == "docker" && s.archive == "single":
		return "docker-archive:" + path, "", nil
	case format == "docker" && s.slug == "by-digest":
		o, err := readOutput(path)
		if err != nil {
			return "", "", err
		}
		for i, it := range o.items {
			if len(it.RepoTags) == 0 && o.itemConfig(it) == im.config {
				return fmt.Sprintf("docker-archive:%s:@%d", path, i), fmt.Sprintf("%s: manifest.json entry %d holds it untagged: skopeo can take it only by position, without its name", n, i), nil
			}
		}
		return "", "", fmt.Errorf("%s: manifest.json has no untagged entry with config %s", filepath.Base(path), im.config)
	case format == "docker":
		return "docker-archive:" + path + ":" + n, "", nil
	case s.archive == "single":
		return "oci-archive:" + path, "", nil
	}
	return "oci-archive:" + path + ":" + im.tags[n], "", nil
}

// ---- small helpers -----------------------------------------------------

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func uniqFields(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range strings.Fields(s) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
