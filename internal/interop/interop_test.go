//go:build interop

package interop

import (
	"testing"

	"github.com/oci-ferry/ferry/internal/regtest"
)

// One test per kind of engine, and in it one parallel subtest per
// version of it; inside one, the load cells (per archive format) come
// first, then the engine's save rows. The pull-back cells of every save
// row use the pullers (pull_test.go) whichever engine wrote the row.

func TestDocker(t *testing.T) {
	t.Parallel()
	forEach(t, "docker", func(t *testing.T, e *engine) {
		noteVersion(t, e, "dockerd ", docker(t, e, "load"), "version", "--format", "{{.Server.Version}}")
		st := getStock(t)
		for _, f := range suite.formats {
			t.Run("load-"+f, func(t *testing.T) { testDockerLoad(t, e, st, f) })
		}
		t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, e, st)) })
	})
}

func TestPodman(t *testing.T) {
	t.Parallel()
	forEach(t, "podman", func(t *testing.T, e *engine) {
		noteVersion(t, e, "", podman(t, e, "load"), "--version")
		st := getStock(t)
		for _, f := range suite.formats {
			t.Run("load-"+f, func(t *testing.T) { testPodmanLoad(t, e, st, f) })
		}
		t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, e, st)) })
	})
}

func TestContainerd(t *testing.T) {
	t.Parallel()
	forEach(t, "ctr", func(t *testing.T, e *engine) {
		ctr(t, e, "default") // starts containerd, or skips
		noteVersion(t, e, "", &tool{name: e.name, path: locate(t, e.ctrd.bin)}, "--version")
		st := getStock(t)
		for _, f := range suite.formats {
			t.Run("load-"+f, func(t *testing.T) { testCtrImport(t, e, st, f) })
		}
		t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, e, st)) })
	})
}

func TestSkopeo(t *testing.T) {
	t.Parallel()
	forEach(t, "skopeo", func(t *testing.T, e *engine) {
		noteVersion(t, e, "", skopeo(t, e), "--version")
		st := getStock(t)
		reg := startRegistry(t)
		for _, f := range suite.formats {
			t.Run("load-"+f, func(t *testing.T) { testSkopeoCopy(t, e, st, f, reg) })
		}
		t.Run("save", func(t *testing.T) { runSaveRows(t, newSaveEnv(t, e, st)) })
	})
}

// forEach runs fn for every engine of kind, in parallel.
func forEach(t *testing.T, kind string, fn func(t *testing.T, e *engine)) {
	for _, e := range enginesOf(kind) {
		t.Run(e.slug, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// startRegistry runs the reference registry on 127.0.0.1 until t ends.
func startRegistry(t *testing.T) *regtest.Registry { return regtest.Start(t) }

// registerRows fixes the order of the report's rows and columns.
func registerRows() {
	for _, e := range engines {
		loadMatrix.cols = append(loadMatrix.cols, e.loadCol())
	}
	for _, p := range pullers {
		saveMatrix.cols = append(saveMatrix.cols, p.col)
	}
	for _, f := range suite.formats {
		for _, s := range loadShapes {
			loadMatrix.addRow(s.slug, f, s.label)
		}
	}
	for _, e := range engines {
		for _, r := range saveRows {
			if r.engine == e.kind {
				saveMatrix.addRow(r.slug, e.name, e.rowLabel(r.label))
			}
		}
	}
}
