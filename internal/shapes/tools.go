package shapes

import (
	"encoding/json"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Fixture is one generated input and what a correct reader makes of it.
type Fixture struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Tool string `json:"tool"`
	// Images a reader must find, by the full normalized name it must
	// report ("" for an unnamed entry, ":tag" when only a tag is known)
	// and root digest ("" when the reader generates the manifest).
	Images map[string]string `json:"images,omitempty"`
	// Bad fixtures must fail import and verify; the error must contain
	// every string in Mention.
	Bad     bool     `json:"bad,omitempty"`
	Mention []string `json:"mention,omitempty"`
	Note    string   `json:"note"`
}

type gen struct {
	dir string
	out []Fixture
	err error
}

func (g *gen) add(f Fixture, fs []file, kind string) {
	if g.err != nil {
		return
	}
	switch kind {
	case "dir":
		f.Path = filepath.Join(g.dir, f.Name)
		g.err = writeDir(f.Path, fs)
	case "tar.gz":
		f.Path = filepath.Join(g.dir, f.Name+".tar.gz")
		g.err = writeTar(f.Path, fs, true, false)
	case "sorted":
		f.Path = filepath.Join(g.dir, f.Name+".tar")
		g.err = writeTar(f.Path, fs, false, true)
	default:
		f.Path = filepath.Join(g.dir, f.Name+".tar")
		g.err = writeTar(f.Path, fs, false, false)
	}
	g.out = append(g.out, f)
}

// Generate writes every fixture into dir and lists them. The output is the
// same, byte for byte, on every run.
func Generate(dir string) ([]Fixture, error) {
	g := &gen{dir: dir}
	g.tools()
	g.hostile()
	return g.out, g.err
}

// tools writes what each tool writes.
func (g *gen) tools() {
	busy := build("amd64", opts{layers: []string{"busybox base"}})
	amd := build("amd64", opts{compressed: true, layers: []string{"app base", "app code"}})
	arm := build("arm64", opts{compressed: true, layers: []string{"app base", "app code"}})
	idxB, idxD := index(false, amd, arm)
	damd := build("amd64", opts{docker: true, compressed: true, layers: []string{"legacy"}})
	darm := build("arm64", opts{docker: true, compressed: true, layers: []string{"legacy"}})
	listB, listD := index(true, damd, darm)
	alp := build("amd64", opts{compressed: true, layers: []string{"alpine"}})
	empty := []byte("{}")
	subj := busy.mdesc
	sbom, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sbom",
		Config: desc("application/vnd.oci.empty.v1+json", empty), Layers: []ocispec.Descriptor{desc("application/vnd.oci.empty.v1+json", empty)}, Subject: &subj})
	sbomD := desc(ocispec.MediaTypeImageManifest, sbom)
	alpName := "docker.io/library/alpine@" + alp.mdesc.Digest.String()
	entries := []ocispec.Descriptor{
		named(busy.mdesc, containerdName, "docker.io/library/busybox:1.36", ocispec.AnnotationRefName, "1.36"),
		named(busy.mdesc, containerdName, "docker.io/library/busybox:latest", ocispec.AnnotationRefName, "latest"),
		named(idxD, containerdName, "example.com/team/app:v2", ocispec.AnnotationRefName, "v2"),
		named(listD, containerdName, "quay.io/org/legacy:1", ocispec.AnnotationRefName, "1"),
		named(alp.mdesc, containerdName, alpName, ocispec.AnnotationRefName, alpName),
		named(sbomD),
	}
	all := [][]byte{idxB, listB, sbom, empty}
	for _, im := range []image{busy, amd, arm, damd, darm, alp} {
		all = append(all, im.blobs()...)
	}
	g.add(Fixture{Name: "ferry-layout", Tool: "ferry", Note: "several repositories, tags, a multi-platform index, a Docker list, a digest-only image, a referrer",
		Images: map[string]string{"docker.io/library/busybox:1.36": busy.mdesc.Digest.String(), "docker.io/library/busybox:latest": busy.mdesc.Digest.String(),
			"example.com/team/app:v2": idxD.Digest.String(), "quay.io/org/legacy:1": listD.Digest.String(), alpName: alp.mdesc.Digest.String(), "": sbomD.Digest.String()}},
		ociFiles(entries, all...), "dir")

	g.dockerLegacy()
	g.docker25()
	g.containerd(amd, arm, idxB, idxD)

	// podman save --format oci-archive: one entry, full name in ref.name.
	pod := build("amd64", opts{compressed: true, layers: []string{"podman app"}})
	g.add(Fixture{Name: "podman-oci-archive", Tool: "podman", Note: "ref.name holds the full name",
		Images: map[string]string{"localhost/myapp:latest": pod.mdesc.Digest.String()}},
		ociFiles([]ocispec.Descriptor{named(pod.mdesc, ocispec.AnnotationRefName, "localhost/myapp:latest")}, pod.blobs()...), "")
	// skopeo copy to oci:DIR:v1: ref.name is the tag only.
	sk := build("amd64", opts{compressed: true, layers: []string{"skopeo"}})
	g.add(Fixture{Name: "skopeo-oci-dir", Tool: "skopeo", Note: "ref.name holds a bare tag", Images: map[string]string{":v1": sk.mdesc.Digest.String()}},
		ociFiles([]ocispec.Descriptor{named(sk.mdesc, ocispec.AnnotationRefName, "v1")}, sk.blobs()...), "dir")
	// crane pull --format=oci: no annotations at all.
	cr := build("amd64", opts{docker: true, compressed: true, layers: []string{"crane"}})
	g.add(Fixture{Name: "crane-layout", Tool: "crane", Note: "no name annotations", Images: map[string]string{"": cr.mdesc.Digest.String()}},
		ociFiles([]ocispec.Descriptor{named(cr.mdesc)}, cr.blobs()...), "dir")
	// regctl image export: tag in ref.name, full name for containerd, manifest.json.
	rc := build("amd64", opts{compressed: true, layers: []string{"regctl"}})
	rcFiles := ociFiles([]ocispec.Descriptor{named(rc.mdesc, ocispec.AnnotationRefName, "3.1", containerdName, "registry.example.com/x/y:3.1",
		"org.opencontainers.image.created", "2026-01-02T03:04:05Z")}, rc.blobs()...)
	rcFiles = append(rcFiles, dockerManifestJSON(rc, []string{"registry.example.com/x/y:3.1"}, true))
	g.add(Fixture{Name: "regctl-export", Tool: "regctl", Images: map[string]string{"registry.example.com/x/y:3.1": rc.mdesc.Digest.String()}}, rcFiles, "")
	// oras cp --to-oci-layout: tags only, one an artifact.
	or := build("amd64", opts{compressed: true, layers: []string{"oras"}})
	art, _ := json.Marshal(ocispec.Manifest{Versioned: v2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.config",
		Config: desc("application/vnd.oci.empty.v1+json", empty), Layers: []ocispec.Descriptor{desc("text/plain", []byte("hello"))}})
	artD := desc(ocispec.MediaTypeImageManifest, art)
	g.add(Fixture{Name: "oras-layout", Tool: "oras", Images: map[string]string{":v1": or.mdesc.Digest.String(), ":v2": artD.Digest.String()}},
		ociFiles([]ocispec.Descriptor{named(or.mdesc, ocispec.AnnotationRefName, "v1"), named(artD, ocispec.AnnotationRefName, "v2")},
			append(or.blobs(), art, empty, []byte("hello"))...), "dir")
}

// dockerManifestJSON is a docker-save manifest.json for im with layers
// under blobs/ (docker 25+, containerd) or at the given paths.
func dockerManifestJSON(im image, tags []string, blobsPaths bool, paths ...string) file {
	cfg := "blobs/sha256/" + im.cdesc.Digest.Encoded()
	var layers []string
	for i, l := range im.ldesc {
		if blobsPaths {
			layers = append(layers, "blobs/sha256/"+l.Digest.Encoded())
		} else {
			layers = append(layers, paths[i])
		}
	}
	if !blobsPaths {
		cfg = paths[len(paths)-1]
	}
	b, _ := json.Marshal([]map[string]any{{"Config": cfg, "RepoTags": tags, "Layers": layers}})
	return file{name: "manifest.json", body: b}
}

func hexOf(b []byte) string { return digest.FromBytes(b).Encoded() }
