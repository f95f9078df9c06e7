package main

import (
	"os"
	"os/exec"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/regtest"
	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// stoppedPull pushes a one-layer image with a layer large enough to be
// pulled in ranges, starts ferry pull of it through a counter pacing
// each connection (a link slow enough to stop it half-way), sends sig
// once at bytes served, and returns, with the pull's exit error and
// stderr, what a second pull needs.
func stoppedPull(t *testing.T, sig os.Signal, at int64) (cnt *regtest.Counter, ref, dst string, err error, stderr string) {
	t.Helper()
	reg := regtest.Start(t)
	src := testimage.Noisy(t, "example.com/big:v1", int(layout.RangedMin)+2<<20, 3)
	if code, _, errs := ferry(t, "push", src, "--to", reg.Host+"/seed"); code != 0 {
		t.Fatal(errs)
	}
	cnt = regtest.NewCounter(t, reg)
	cnt.PaceStreams(16 << 20)
	dst = t.TempDir() + "/dst"
	ref = cnt.Host + "/seed/big:v1"
	cmd := exec.Command(os.Args[0], "pull", ref, "--to", dst)
	cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
	var errb strings.Builder
	cmd.Stderr = &errb
	var once gosync.Once
	var proc atomic.Pointer[os.Process]
	cnt.OnServed(func(total int64) {
		if p := proc.Load(); p != nil && total >= at {
			once.Do(func() { p.Signal(sig) })
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc.Store(cmd.Process)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the pull was not stopped by %v\n%s", sig, errb.String())
	}
	cnt.OnServed(nil)
	cnt.PaceStreams(0)
	return cnt, ref, dst, err, errb.String()
}

// TestPullInterruptedResumes: Ctrl-C in the middle of a large layer ends
// the pull with exit 130 and a message saying the verified first bytes
// are kept; the same command, run again, says it resumed and finishes.
func TestPullInterruptedResumes(t *testing.T) {
	_, ref, dst, err, stderr := stoppedPull(t, syscall.SIGINT, 24<<20)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted pull: %v, want exit %d\n%s", err, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr, "are kept in the layout: the same pull fetches only the rest") {
		t.Fatalf("the interrupted pull does not say what it kept: %q", stderr)
	}
	code, out, errs := ferry(t, "pull", ref, "--to", dst)
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(out, "resumed: ") || !strings.Contains(out, "only the rest fetched") {
		t.Fatalf("the second pull does not say it resumed: %q", out)
	}
	if code, _, errs := ferry(t, "verify", dst); code != 0 {
		t.Fatal(errs)
	}
}

// TestPullKilledResumes: a pull killed outright (SIGKILL: no signal
// handler runs, nothing is kept the way a failing pull keeps it) in the
// middle of a large layer still leaves its verified prefix known; the
// same command, run again, takes it over (hashed again first), fetches
// only about the rest, says it resumed, and the layout verifies.
func TestPullKilledResumes(t *testing.T) {
	const killAt = 48 << 20
	cnt, ref, dst, err, _ := stoppedPull(t, syscall.SIGKILL, killAt)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("killed pull: %v, want death by SIGKILL", err)
	}
	before := cnt.Served()
	code, out, errs := ferry(t, "pull", ref, "--to", dst)
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(out, "resumed: ") {
		t.Fatalf("the second pull does not say it resumed: %q %q", out, errs)
	}
	// What is kept is the prefix hashed in order when the kill came, in
	// steps of a marker (8 MiB), not all that was served (the layer came
	// in parts at once): at least one step of it is not fetched again.
	size := int64(layout.RangedMin) + 2<<20
	if again := cnt.Served() - before; again > size-(8<<20)+1<<20 {
		t.Errorf("the second pull fetched %d bytes of a %d-byte layer killed after %d were served: %s", again, size, killAt, out)
	}
	if code, _, errs := ferry(t, "verify", dst); code != 0 {
		t.Fatal(errs)
	}
}
