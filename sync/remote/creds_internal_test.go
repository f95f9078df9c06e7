package remote

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowHelper installs docker-credential-slow, a script whose child sleeps
// while holding the output pipe, and a config that uses it; it returns
// the file where the sleeper writes its pid.
func slowHelper(t *testing.T) string {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := "#!/bin/sh\nsleep 60 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-slow"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credsStore":"slow"}`), 0o600)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	return pidFile
}

// gone waits briefly for the sleeper to be dead (or a zombie awaiting a
// reaper that is not ferry).
func gone(t *testing.T, pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the helper never started its child: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for range 50 {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || syscall.Kill(pid, 0) != nil || strings.Contains(string(st), ") Z ") {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestHelperCancelled: SIGINT cancels the context; the helper and its
// children are killed at once, not after the helper's 60 s.
func TestHelperCancelled(t *testing.T) {
	pidFile := slowHelper(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := DockerCredentials(nil)(ctx, "registry.example")
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("a cancelled helper kept ferry %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("want a cancellation error, got %v", err)
	}
	if !gone(t, pidFile) {
		t.Fatal("the helper's child outlived the cancellation")
	}
}

// TestHelperTimeout: a helper that never answers is stopped after the
// time limit, with a message that says what may be wrong.
func TestHelperTimeout(t *testing.T) {
	pidFile := slowHelper(t)
	start := time.Now()
	_, _, err := runHelper(context.Background(), "slow", "registry.example", 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the time-out took %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "gave no answer") {
		t.Fatalf("want a time-out error, got %v", err)
	}
	if !gone(t, pidFile) {
		t.Fatal("the helper's child outlived the time-out")
	}
}
