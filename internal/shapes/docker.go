package shapes

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type item struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func manifestJSON(items ...item) file {
	b, _ := json.Marshal(items)
	return file{name: "manifest.json", body: b}
}

// dockerLegacy is docker ≤24: <v1id>/layer.tar, <hex>.json configs, the
// shared base layer of the second image a symlink to the first's.
func (g *gen) dockerLegacy() {
	a := build("amd64", opts{layers: []string{"shared base"}})
	b := build("amd64", opts{layers: []string{"shared base", "curl"}})
	fs := []file{
		{name: "1111/VERSION", body: []byte("1.0")}, {name: "1111/json", body: []byte(`{"id":"1111"}`)}, {name: "1111/layer.tar", body: a.layers[0]},
		{name: "2222/VERSION", body: []byte("1.0")}, {name: "2222/json", body: []byte(`{"id":"2222"}`)}, {name: "2222/layer.tar", link: "../1111/layer.tar"},
		{name: "3333/VERSION", body: []byte("1.0")}, {name: "3333/json", body: []byte(`{"id":"3333"}`)}, {name: "3333/layer.tar", body: b.layers[1]},
		{name: hexOf(a.config) + ".json", body: a.config}, {name: hexOf(b.config) + ".json", body: b.config},
		{name: "repositories", body: []byte(`{"busybox":{"1.36":"1111"}}`)},
		manifestJSON(item{hexOf(a.config) + ".json", []string{"busybox:1.36"}, []string{"1111/layer.tar"}},
			item{hexOf(b.config) + ".json", []string{"example.com/tools/curl:8"}, []string{"2222/layer.tar", "3333/layer.tar"}}),
	}
	g.add(Fixture{Name: "docker-save-legacy", Tool: "docker ≤24", Note: "legacy layout with a symlinked repeated layer; the manifest is generated",
		Images: map[string]string{"docker.io/library/busybox:1.36": "", "example.com/tools/curl:8": ""}}, fs, "")
}

// docker25 is docker 25+ on the graphdriver store: an OCI layout whose
// generated manifests point at uncompressed layers, plus manifest.json.
func (g *gen) docker25() {
	a := build("amd64", opts{layers: []string{"nginx base", "nginx conf"}})
	b := build("amd64", opts{layers: []string{"redis"}})
	fs := ociFiles([]ocispec.Descriptor{
		named(a.mdesc, containerdName, "docker.io/library/nginx:1.27", ocispec.AnnotationRefName, "1.27"),
		named(a.mdesc, containerdName, "docker.io/library/nginx:latest", ocispec.AnnotationRefName, "latest"),
		named(b.mdesc, containerdName, "docker.io/library/redis:7", ocispec.AnnotationRefName, "7"),
	}, append(a.blobs(), b.blobs()...)...)
	ma, mb := dockerManifestJSON(a, []string{"nginx:1.27", "nginx:latest"}, true), dockerManifestJSON(b, []string{"redis:7"}, true)
	var items []item
	json.Unmarshal(ma.body, &items)
	var more []item
	json.Unmarshal(mb.body, &more)
	fs = append(fs, manifestJSON(append(items, more...)...), file{name: "repositories", body: []byte(`{"nginx":{"1.27":"x"}}`)})
	want := map[string]string{"docker.io/library/nginx:1.27": a.mdesc.Digest.String(), "docker.io/library/nginx:latest": a.mdesc.Digest.String(),
		"docker.io/library/redis:7": b.mdesc.Digest.String()}
	g.add(Fixture{Name: "docker-save-25", Tool: "docker 25+", Images: want}, fs, "")
	g.add(Fixture{Name: "docker-save-25", Tool: "docker 25+ | gzip", Images: want}, fs, "tar.gz")

	// podman save -m (docker-archive): <hex>.tar layers, <hex>.json
	// configs at the root, symlinks <id>/layer.tar -> ../<hex>.tar.
	p1 := build("amd64", opts{layers: []string{"podman one"}})
	p2 := build("amd64", opts{layers: []string{"podman two"}})
	pf := []file{
		{name: hexOf(p1.layers[0]) + ".tar", body: p1.layers[0]}, {name: hexOf(p2.layers[0]) + ".tar", body: p2.layers[0]},
		{name: hexOf(p1.config) + ".json", body: p1.config}, {name: hexOf(p2.config) + ".json", body: p2.config},
		{name: "aaaa/layer.tar", link: "../" + hexOf(p1.layers[0]) + ".tar"}, {name: "aaaa/VERSION", body: []byte("1.0")},
		manifestJSON(item{hexOf(p1.config) + ".json", []string{"localhost/one:latest"}, []string{hexOf(p1.layers[0]) + ".tar"}},
			item{hexOf(p2.config) + ".json", []string{"quay.io/team/two:1.0"}, []string{hexOf(p2.layers[0]) + ".tar"}}),
	}
	g.add(Fixture{Name: "podman-docker-archive", Tool: "podman save -m", Images: map[string]string{"localhost/one:latest": "", "quay.io/team/two:1.0": ""}}, pf, "")

	// crane pull (tarball): config named sha256:<hex>, layers <hex>.tar.gz.
	c := build("amd64", opts{compressed: true, layers: []string{"crane tool"}})
	cf := []file{
		{name: "sha256:" + hexOf(c.config), body: c.config}, {name: hexOf(c.layers[0]) + ".tar.gz", body: c.layers[0]},
		manifestJSON(item{"sha256:" + hexOf(c.config), []string{"registry.example.com/ns/tool:2.0"}, []string{hexOf(c.layers[0]) + ".tar.gz"}}),
	}
	g.add(Fixture{Name: "crane-tarball", Tool: "crane pull", Note: "gzip layers in a docker tarball: DiffIDs need decompression",
		Images: map[string]string{"registry.example.com/ns/tool:2.0": ""}}, cf, "")
}

// containerd is ctr images export / docker's containerd store: sorted
// entries with directory entries, original blobs, an index, and a
// manifest.json for one platform. The sparse variant lacks arm64.
func (g *gen) containerd(amd, arm image, idxB []byte, idxD ocispec.Descriptor) {
	entry := named(idxD, containerdName, "example.com/team/app:v2", ocispec.AnnotationRefName, "v2")
	for _, sparse := range []bool{false, true} {
		blobs := append([][]byte{idxB}, amd.blobs()...)
		name := "containerd-export"
		if !sparse {
			blobs = append(blobs, arm.blobs()...)
		} else {
			name += "-sparse"
		}
		fs := ociFiles([]ocispec.Descriptor{entry}, blobs...)
		fs = append(fs, file{name: "blobs/"}, file{name: "blobs/sha256/"}, dockerManifestJSON(amd, []string{"example.com/team/app:v2"}, true))
		g.add(Fixture{Name: name, Tool: "ctr images export", Note: fmt.Sprintf("sparse=%v", sparse),
			Images: map[string]string{"example.com/team/app:v2": idxD.Digest.String()}}, fs, "sorted")
	}
}
