//go:build interop

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// suite is what every test of the binary shares: one temporary root for
// all state, the ferry binary and the daemons started so far.
var suite struct {
	root    string // every daemon's and tool's state lives under it
	ferry   string // the ferry binary under test
	engines string // where scripts/engines.sh installed the current engines
	version string // `ferry --version`
	formats []string
	ci      bool // CI set: a missing tool fails instead of skipping
	start   time.Time

	mu      sync.Mutex
	daemons []*daemon // in start order; stopped in reverse
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	suite.start = time.Now()
	suite.ci = os.Getenv("CI") != ""
	// A short root: podman wants its run directory under 50 characters
	// and unix sockets live under it.
	tmp := os.TempDir()
	if len(tmp) > 16 {
		tmp = "/tmp"
	}
	root, err := os.MkdirTemp(tmp, "ferry-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	suite.root = root
	suite.engines = os.Getenv("FERRY_INTEROP_ENGINES")
	if suite.engines == "" {
		suite.engines = "../../bin/engines" // scripts/engines.sh's default, from this package
	}
	if suite.engines, err = filepath.Abs(suite.engines); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}

	// Ctrl-C or a kill from make: stop the daemons and clean up before
	// dying. (SIGKILL cannot be caught; the daemons' parent-death signal
	// covers that.)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "interop: %v: stopping daemons\n", s)
		cleanup()
		os.Exit(130)
	}()

	if err := findFerry(); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		cleanup()
		return 1
	}
	registerRows()
	code := m.Run()
	left := cleanup()
	report := renderReport(time.Since(suite.start), left)
	fmt.Print(report)
	if p := os.Getenv("FERRY_INTEROP_TABLE"); p != "" {
		if err := os.WriteFile(p, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "interop:", err)
			return 1
		}
	}
	if len(left) > 0 && code == 0 {
		code = 1
	}
	return code
}

var cleanupOnce sync.Once

// cleanup stops the daemons, unmounts anything left under the root,
// removes the root and returns what it found left behind (processes or
// mounts); that list must be empty.
func cleanup() (left []string) {
	cleanupOnce.Do(func() {
		left = stopDaemons()
		left = append(left, unmountUnder(suite.root)...)
		left = append(left, leftoverProcesses(suite.root)...)
		if os.Getenv("FERRY_INTEROP_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "interop: kept %s\n", suite.root)
			return
		}
		if err := os.RemoveAll(suite.root); err != nil {
			left = append(left, "could not remove "+suite.root+": "+err.Error())
		}
	})
	return left
}

// findFerry uses $FERRY or builds ./cmd/ferry into the root, then reads
// its version.
func findFerry() error {
	if p := os.Getenv("FERRY"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("FERRY=%s: %w", p, err)
		}
		suite.ferry = abs
	} else {
		mod, err := filepath.Abs("../..")
		if err != nil {
			return err
		}
		suite.ferry = filepath.Join(suite.root, "ferry")
		cmd := exec.Command("go", "build", "-o", suite.ferry, "./cmd/ferry")
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/ferry: %v\n%s", err, out)
		}
	}
	out, err := exec.Command(suite.ferry, "--version").Output()
	if err != nil {
		return fmt.Errorf("%s --version: %w", suite.ferry, err)
	}
	suite.version = strings.TrimSpace(string(out))
	suite.formats = []string{"both", "oci", "docker"}
	return nil
}
