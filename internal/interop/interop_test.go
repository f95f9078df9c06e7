//go:build interop

package interop

import (
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// One test per engine, run in parallel with each other; inside one, the
// load cells (per archive format) come first, then the engine's save rows.
// The pull-back cells of every save row use docker, podman and skopeo
// whichever engine wrote the row.

func TestDocker(t *testing.T) {
	t.Parallel()
	noteVersion(t, "dockerd", "dockerd ", docker(t, "load"), "version", "--format", "{{.Server.Version}}")
	st := getStock(t)
	for _, f := range suite.formats {
		t.Run("load-"+f, func(t *testing.T) { testDockerLoad(t, st, f) })
	}
	t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, st), "docker") })
}

func TestPodman(t *testing.T) {
	t.Parallel()
	noteVersion(t, "podman", "", podman(t, "load"), "--version")
	st := getStock(t)
	for _, f := range suite.formats {
		t.Run("load-"+f, func(t *testing.T) { testPodmanLoad(t, st, f) })
	}
	t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, st), "podman") })
}

func TestContainerd(t *testing.T) {
	t.Parallel()
	ctr(t, "default") // starts containerd, or skips
	noteVersion(t, "containerd", "", &tool{name: "containerd", path: need(t, "containerd")}, "--version")
	st := getStock(t)
	for _, f := range suite.formats {
		t.Run("load-"+f, func(t *testing.T) { testCtrImport(t, st, f) })
	}
	t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, st), "ctr") })
}

func TestSkopeo(t *testing.T) {
	t.Parallel()
	noteVersion(t, "skopeo", "", skopeo(t), "--version")
	st := getStock(t)
	reg := startRegistry(t)
	for _, f := range suite.formats {
		t.Run("load-"+f, func(t *testing.T) { testSkopeoCopy(t, st, f, reg) })
	}
	t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, st), "skopeo") })
}

// startRegistry runs the reference registry on 127.0.0.1 until t ends.
func startRegistry(t *testing.T) *regtest.Registry { return regtest.Start(t) }

// registerRows fixes the order of the report's rows.
func registerRows() {
	for _, f := range suite.formats {
		for _, s := range loadShapes {
			loadMatrix.addRow(s.slug, f, s.label)
		}
	}
	for _, r := range saveRows {
		saveMatrix.addRow(r.slug, "", r.label)
	}
}
