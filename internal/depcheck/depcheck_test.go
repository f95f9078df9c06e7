// Package depcheck holds the test that keeps ferry's package graph as the
// design says: cmd on top; sync, which copies between any two targets,
// over archive, sync/remote (the registry client), sync/web (a layout on a
// web server, read through that client) and sync/s3 (a layout in a
// bucket); archive, verify, serve, sync/remote and sync/s3 side by side,
// all on layout, which depends on no other ferry package; urfave/cli only
// in cmd, klauspost only in archive, x/crypto (bcrypt) only in serve,
// minio-go only in sync/s3.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/oci-ferry/ferry/"

// allowed lists, for each package, the ferry packages it may import.
var allowed = map[string][]string{
	"layout":      {},
	"archive":     {"layout"},
	"verify":      {"layout"},
	"sync":        {"layout", "archive", "sync/remote", "sync/web", "sync/s3"},
	"sync/remote": {"layout"},
	"sync/web":    {"layout", "sync/remote"},
	"sync/s3":     {"layout"},
	"serve":       {"layout"},
	"cmd/ferry":   {"layout", "archive", "verify", "sync", "sync/remote", "sync/web", "sync/s3", "serve"},
}

// onlyIn names third-party modules confined to one package.
var onlyIn = map[string]string{
	"github.com/urfave/cli":         "cmd/ferry",
	"github.com/klauspost/compress": "archive",
	"golang.org/x/crypto":           "serve",
	"github.com/minio/minio-go":     "sync/s3",
}

func TestPackageGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		rules, checked := allowed[pkg]
		for _, imp := range f[1:] {
			if checked && strings.HasPrefix(imp, mod) {
				ok := false
				for _, a := range rules {
					ok = ok || imp == mod+a
				}
				if !ok {
					t.Errorf("%s imports %s, which the design does not allow", pkg, strings.TrimPrefix(imp, mod))
				}
			}
			for m, home := range onlyIn {
				if strings.HasPrefix(imp, m) && pkg != home && !strings.HasPrefix(pkg, "internal/") && !strings.HasPrefix(pkg, "bench/") {
					t.Errorf("%s imports %s, which belongs in %s only", pkg, m, home)
				}
			}
		}
	}
}
