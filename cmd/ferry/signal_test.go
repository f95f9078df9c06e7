package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oci-ferry/ferry/internal/testimage"
)

// holdLockEnv makes the test binary a process that holds a layout's lock
// until its stdin closes: another ferry, as far as the lock can tell.
const holdLockEnv = "FERRY_TEST_HOLD_LOCK"

func holdLockMain(path string) int {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("held\n")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// holdLock starts a process holding dir's layout lock; the lock is freed
// when the test ends.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdLockEnv+"="+filepath.Join(dir, ".ferry", "lock"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
}

// hashTree maps every file and directory under dir, .ferry included, to
// its type and the hash of its content.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[rel] = d.Type().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInterruptWhileWaitingForLock: SIGINT stops an import that waits for
// the lock another process holds, promptly, with exit 130, and the layout
// is byte for byte what it was.
func TestInterruptWhileWaitingForLock(t *testing.T) {
	set := testimage.New(t)
	dst := filepath.Join(t.TempDir(), "dst")
	if code, _, errs := ferry(t, "import", set.Dir, "busybox:1.36", "--into", dst); code != 0 {
		t.Fatal(errs)
	}
	holdLock(t, dst)
	before := hashTree(t, dst)

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		args := []string{"import", set.Dir, "--into", dst}
		if sig == syscall.SIGTERM {
			args = append(args, "--json")
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "FERRY_AS_MAIN=1")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// The import stages its few small blobs in milliseconds and then
		// waits for the lock; still running after a second, it waits.
		select {
		case err := <-done:
			t.Fatalf("import finished while another process held the lock: %v\n%s", err, stderr.String())
		case <-time.After(time.Second):
		}
		sent := time.Now()
		cmd.Process.Signal(sig)
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
				t.Fatalf("%v while waiting for the lock: %v, want exit %d\n%s", sig, err, exitInterrupted, stderr.String())
			}
			if d := time.Since(sent); d > 2*time.Second {
				t.Errorf("%v took %v to stop the wait", sig, d)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v did not stop an import waiting for the lock\n%s", sig, stderr.String())
		}
		if !strings.Contains(stderr.String(), "interrupted; nothing was committed") || !strings.Contains(stderr.String(), dst) {
			t.Errorf("stderr does not say what was interrupted: %q", stderr.String())
		}
		if sig == syscall.SIGTERM {
			var je jsonError
			if err := json.Unmarshal([]byte(stdout.String()), &je); err != nil || je.Code != exitInterrupted {
				t.Errorf("--json: stdout %q (%v), want an error object with code %d", stdout.String(), err, exitInterrupted)
			}
		}
		if after := hashTree(t, dst); !reflect.DeepEqual(before, after) {
			t.Fatalf("the layout changed after %v:\nbefore %v\nafter  %v", sig, before, after)
		}
	}
}
