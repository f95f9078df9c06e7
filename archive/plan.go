package archive

import (
	"context"
	"fmt"
	"runtime"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Annotations ferry puts on the index.json of its archives. Readers ignore
// unknown annotations; they let a later ferry recognise its own format and
// leave room for volumes and deltas without breaking any loader.
const (
	AnnotationFormat = "dev.ferry.archive.format" // "1"
	AnnotationBlobs  = "dev.ferry.archive.blobs"  // number of blobs
	AnnotationSize   = "dev.ferry.archive.size"   // total bytes of blobs
	// Reserved: a multi-volume archive will say which volume this is and
	// how many there are; a delta archive names the blobs it leaves out.
	AnnotationVolume    = "dev.ferry.archive.volume"
	AnnotationDeltaBase = "dev.ferry.archive.delta-base"
)

// plan is everything an archive will hold, in write order.
type plan struct {
	images []layout.Image
	graph  *layout.Graph
	meta   []ocispec.Descriptor // indexes, manifests and configs
	layers []ocispec.Descriptor // everything else
	docker []dockerItem
	// dockerImages are the images manifest.json names.
	dockerImages []layout.Image
	skipped      []string // images left out of manifest.json and why
	platform     string   // the platform manifest.json carries for multi-platform images
	deltaPlan             // set for a delta archive (delta.go)
}

// makePlan walks the chosen images and orders their content: metadata
// first so a streaming reader knows the whole archive before the first
// layer, layers after, each once.
func makePlan(ctx context.Context, src layout.ReadOnly, images []layout.Image, platforms []ocispec.Platform, format Format) (*plan, error) {
	roots := make([]ocispec.Descriptor, 0, len(images))
	for _, im := range images {
		roots = append(roots, im.Desc)
	}
	g, err := layout.Walk(ctx, src, roots, layout.WalkOptions{Platforms: platforms, CheckBlobs: true, AllowMissing: true})
	if err != nil {
		return nil, err
	}
	p := &plan{images: images, graph: g, platform: dockerPlatform(platforms)}
	for _, im := range images {
		missing, err := completeness(g, im)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name(), err)
		}
		if len(missing) > 0 {
			p.skipped = append(p.skipped, fmt.Sprintf("%s: sparse, the source lacks %v", im.Name(), missing))
		}
	}
	configs := map[digest.Digest]bool{}
	for _, n := range g.Nodes {
		p.meta = append(p.meta, n.Desc)
		if n.Manifest != nil {
			configs[n.Manifest.Config.Digest] = true
		}
	}
	for _, b := range g.Blobs {
		if configs[b.Digest] {
			p.meta = append(p.meta, b)
		} else {
			p.layers = append(p.layers, b)
		}
	}
	if !format.docker() {
		return p, nil
	}
	used := p.addDockerItems(images)
	if format == Docker {
		p.dockerOnly(used)
		if len(p.docker) == 0 {
			return nil, fmt.Errorf("none of the images is a %s container image, so a docker-format archive would be empty", p.platform)
		}
	}
	return p, nil
}

// dockerPlatform is the platform docker load gets from a multi-platform
// image: the first one asked for, else the machine's own.
func dockerPlatform(want []ocispec.Platform) string {
	if len(want) > 0 {
		return layout.PlatformString(&want[0])
	}
	return "linux/" + runtime.GOARCH
}

// dockerItems builds manifest.json: one entry per image manifest with all
// its name:tag forms. docker load reads nothing else, so this is what makes
// the archive loadable by every docker version. The names are fully
// qualified: docker displays docker.io/library/busybox:1.36 as
// busybox:1.36 anyway, and podman would file a short name under localhost/.
// It returns the digests of every config and layer named, and keeps in
// p.dockerImages the images docker will see.
func (p *plan) addDockerItems(images []layout.Image) map[digest.Digest]bool {
	g, platform := p.graph, p.platform
	used := map[digest.Digest]bool{}
	byManifest := map[digest.Digest]*dockerItem{}
	var order []digest.Digest
	for _, im := range images {
		n := g.Node(im.Desc.Digest)
		if n == nil {
			continue
		}
		m := pickManifest(g, n, platform)
		if m == nil || !layout.IsConfig(m.Manifest.Config.MediaType) || !unpackable(m.Manifest) {
			if im.Ref.Tag != "" { // artifacts and unnamed referrers are not docker images
				p.skipped = append(p.skipped, fmt.Sprintf("%s: no %s image manifest, so docker load will not see it", im.Name(), platform))
			}
			continue
		}
		p.dockerImages = append(p.dockerImages, im)
		it, ok := byManifest[m.Desc.Digest]
		if !ok {
			it = &dockerItem{Config: blobName(m.Manifest.Config.Digest), RepoTags: []string{}}
			used[m.Manifest.Config.Digest] = true
			for _, l := range m.Manifest.Layers {
				it.Layers = append(it.Layers, blobName(l.Digest))
				used[l.Digest] = true
			}
			byManifest[m.Desc.Digest] = it
			order = append(order, m.Desc.Digest)
		}
		if im.Ref.Repo != "" && im.Ref.Tag != "" {
			it.RepoTags = append(it.RepoTags, layout.Ref{Repo: im.Ref.Repo, Tag: im.Ref.Tag}.String())
		}
	}
	p.docker = make([]dockerItem, 0, len(order))
	for _, d := range order {
		it := byManifest[d]
		sort.Strings(it.RepoTags)
		p.docker = append(p.docker, *it)
	}
	return used
}

// pickManifest descends from n to the image manifest for platform.
func pickManifest(g *layout.Graph, n *layout.Node, platform string) *layout.Node {
	want, _ := layout.ParsePlatforms(platform)
	for depth := 0; n != nil && depth < layout.DefaultMaxDepth; depth++ {
		if n.Manifest != nil {
			return n
		}
		var next *layout.Node
		for _, c := range n.Index.Manifests {
			child := g.Node(c.Digest)
			if child == nil {
				continue
			}
			if child.Index != nil && next == nil {
				next = child
			}
			if c.Platform != nil && layout.MatchPlatform(want, c.Platform) && child.Manifest != nil {
				return child
			}
		}
		n = next
	}
	return nil
}

func blobName(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// unpackable reports whether docker could load m as an image: its layers,
// if any, are filesystems. A cosign signature has an image config but a
// signature payload for a layer, which docker load would try to unpack.
func unpackable(m *ocispec.Manifest) bool {
	for _, l := range m.Layers {
		if layout.IsFilesystemLayer(l.MediaType) {
			return true
		}
	}
	return len(m.Layers) == 0
}
