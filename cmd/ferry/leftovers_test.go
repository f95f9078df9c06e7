package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
	"github.com/oci-ferry/ferry/layout"
)

// killWhen runs ferry with args in a child process and SIGKILLs it as soon
// as seen reports that it has started writing, so it dies mid-write.
func killWhen(t *testing.T, seen func() bool, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for {
		select {
		case <-exited:
			t.Fatalf("ferry %v finished before it could be killed mid-write", args)
		default:
		}
		if seen() {
			cmd.Process.Kill()
			<-exited
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// halfWritten reports whether a file matching glob exists and is not empty.
func halfWritten(glob string) func() bool {
	return func() bool {
		m, _ := filepath.Glob(glob)
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
				return true
			}
		}
		return false
	}
}

// TestKilledImportStagingIsReportedAndCleaned: the staging a killed import
// left in .ferry/tmp used to stay there through every later import, unseen
// by verify. verify must note it with its size, and the next import must
// remove it, and only it: a live process's staging stays.
func TestKilledImportStagingIsReportedAndCleaned(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes; slow")
	}
	src := bigLayout(t)
	set := testimage.New(t)
	dst := filepath.Join(t.TempDir(), "dst")
	if code, _, errs := ferry(t, "import", set.Dir, "busybox:1.36", "--into", dst); code != 0 {
		t.Fatal(errs)
	}
	live, err := layout.CreateDir(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Begin().Ingest(context.Background(), strings.NewReader("a live process's staged blob"), ""); err != nil {
		t.Fatal(err)
	}
	// Only the child's staging counts: the live session's blob is there
	// already, so look for a second one.
	killWhen(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(dst, ".ferry", "tmp", "s-*", "b-*"))
		return len(m) > 1 && halfWritten(m[0])() && halfWritten(m[1])()
	}, "import", src, "--into", dst)
	code, out, errs := ferry(t, "verify", dst)
	if code != 0 || !strings.Contains(out, "found 1 leftover(s) of killed ferry runs") || !strings.Contains(out, "bytes") {
		t.Fatalf("verify after a killed import does not mention its staging:\n%s%s", out, errs)
	}
	code, out, errs = ferry(t, "import", set.Dir, "busybox:latest", "--into", dst)
	if code != 0 || !strings.Contains(out, "removed 1 leftover(s)") {
		t.Fatalf("the next import does not say it removed the staging:\n%s%s", out, errs)
	}
	ents, _ := os.ReadDir(filepath.Join(dst, ".ferry", "tmp"))
	if len(ents) != 2 { // the live session's directory and lock
		t.Fatalf(".ferry/tmp after the next import: %v", ents)
	}
	if m, _ := filepath.Glob(filepath.Join(dst, ".ferry", "tmp", "s-*", "b-*")); len(m) != 1 {
		t.Fatalf("the live session's staged blob is gone: %v", m)
	}
}

// TestKilledExportTempIsReportedAndCleaned: a killed export left its
// .NAME.tmp-* file beside the archive forever. verify of the archive must
// note it, and the next export to the same name must remove it, but not
// the temp file of a writer that is still alive.
func TestKilledExportTempIsReportedAndCleaned(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes; slow")
	}
	src := bigLayout(t)
	set := testimage.New(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "images.tar")
	if code, _, errs := ferry(t, "export", "--to", out, set.Dir); code != 0 {
		t.Fatal(errs)
	}
	killWhen(t, halfWritten(filepath.Join(dir, ".images.tar.tmp-*")), "export", "--to", out, src)
	dead, _ := filepath.Glob(filepath.Join(dir, ".images.tar.tmp-*"))
	if len(dead) != 1 {
		t.Fatalf("temp files after the kill: %v", dead)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	live, err := layout.Stage(root, ".", ".images.tar.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	live.Write([]byte("a live writer's bytes"))
	code, rep, errs := ferry(t, "verify", out)
	if code != 0 || !strings.Contains(rep, "found 1 leftover(s) of killed ferry runs beside "+out) || !strings.Contains(rep, filepath.Base(dead[0])) {
		t.Fatalf("verify does not mention the killed export's temp file:\n%s%s", rep, errs)
	}
	if code, _, errs := ferry(t, "export", "--to", out, set.Dir); code != 0 {
		t.Fatal(errs)
	}
	if _, err := os.Lstat(dead[0]); !os.IsNotExist(err) {
		t.Fatalf("the next export left the dead temp file: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, live.Name())); err != nil {
		t.Fatalf("the next export removed a live writer's temp file: %v", err)
	}
}
