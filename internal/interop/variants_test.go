//go:build interop

package interop

import (
	"os"
	"strings"
)

// engine is one version of one engine: a column of the load matrix, and
// the rows of the save matrix its kind writes (suffixed with its name).
// Debian 12's come from PATH (scripts/interop-deps.sh); the current ones
// from the engines directory (scripts/engines.sh, which says how each is
// built or unpacked).
type engine struct {
	kind string // docker, podman, ctr, skopeo: which tests drive it
	name string // "docker 29": column and row label, and tool name in messages
	slug string // "docker-29": state directories, namespaces, subtests
	bin  string // dockerd, podman or skopeo (see locate)
	// docker: its clients, in order of preference.
	client []string
	// docker and ctr: the containerd it runs on.
	ctrd *containerdBuild
	// docker: it keeps images in containerd's image store (docker 29 by
	// default, 26–28 when asked, as here): it reads index.json, and the image ID
	// is the manifest (or index) digest rather than the config digest.
	containerdStore bool
	// podman and skopeo: the containers/image generation, whose
	// configuration and caches they share.
	containers string
}

var (
	containerd16 = &containerdBuild{slug: "containerd-1.6", bin: "containerd", ctr: "ctr"}
	containerd17 = &containerdBuild{slug: "containerd-1.7", bin: "containerd-trixie/usr/bin/containerd", ctr: "containerd-trixie/usr/bin/ctr"}
	containerd24 = &containerdBuild{slug: "containerd-2.4", bin: "containerd-v2.4.2/containerd", ctr: "containerd-v2.4.2/ctr", v3: true}
)

// newDockerCLI is the client for the current daemons: $FERRY_INTEROP_DOCKER_CLI,
// else the docker 28 CLI when the machine has one, else Debian 13's 26.1
// (each negotiates the API version down to the daemon's).
var newDockerCLI = []string{os.Getenv("FERRY_INTEROP_DOCKER_CLI"), "/usr/local/bin/docker", "docker-trixie/usr/bin/docker"}

// engines, in the order of the matrices' columns.
var engines = []*engine{
	{kind: "docker", name: "docker 20.10", slug: "docker-20.10", bin: "dockerd", ctrd: containerd16,
		client: []string{os.Getenv("FERRY_INTEROP_DOCKER"), "/usr/bin/docker"}},
	{kind: "docker", name: "docker 26", slug: "docker-26", bin: "docker-trixie/usr/sbin/dockerd", ctrd: containerd17,
		client: newDockerCLI, containerdStore: true},
	{kind: "docker", name: "docker 28", slug: "docker-28", bin: "docker-v28.5.2/dockerd", ctrd: containerd24,
		client: newDockerCLI, containerdStore: true},
	{kind: "docker", name: "docker 29", slug: "docker-29", bin: "moby-v2.0.0-beta.24/dockerd", ctrd: containerd24,
		client: newDockerCLI, containerdStore: true},
	{kind: "podman", name: "podman 4.3", slug: "podman-4.3", bin: "podman", containers: "debian12"},
	{kind: "podman", name: "podman 5.4", slug: "podman-5.4", bin: "containers-trixie/usr/bin/podman", containers: "debian13"},
	{kind: "ctr", name: "ctr 1.6", slug: "ctr-1.6", ctrd: containerd16},
	{kind: "ctr", name: "ctr 1.7", slug: "ctr-1.7", ctrd: containerd17},
	{kind: "ctr", name: "ctr 2.4", slug: "ctr-2.4", ctrd: containerd24},
	{kind: "skopeo", name: "skopeo 1.9", slug: "skopeo-1.9", bin: "skopeo", containers: "debian12"},
	{kind: "skopeo", name: "skopeo 1.18", slug: "skopeo-1.18", bin: "containers-trixie/usr/bin/skopeo", containers: "debian13"},
}

// enginesOf lists the engines of a kind.
func enginesOf(kind string) []*engine {
	var out []*engine
	for _, e := range engines {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// engineNamed finds an engine by name ("docker 20.10").
func engineNamed(name string) *engine {
	for _, e := range engines {
		if e.name == name {
			return e
		}
	}
	panic("interop: no engine named " + name)
}

// loadCol is e's column in the load matrix: "docker 29 load".
func (e *engine) loadCol() string {
	return e.name + " " + map[string]string{"docker": "load", "podman": "load", "ctr": "import", "skopeo": "copy"}[e.kind]
}

// rowLabel puts e's name on a save row's label ("docker save: …" →
// "docker 29 save: …").
func (e *engine) rowLabel(label string) string {
	return e.name + strings.TrimPrefix(label, e.kind)
}
