//go:build interop

package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// daemon is a long-running process this binary started.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once the process has been reaped
}

// Daemons are started from one OS thread that never exits: a parent-death
// signal fires when the *thread* that forked the child ends, and Go may
// end other threads at will.
var spawns = make(chan spawnCall)

type spawnCall struct {
	cmd *exec.Cmd
	err chan error
}

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the binary
		for c := range spawns {
			c.err <- c.cmd.Start()
		}
	}()
}

// startDaemon runs argv with its output in <root>/<name>.log, as the
// leader of its own process group, in a mount namespace of its own (its
// mounts vanish with it), and killed by the kernel if this binary dies.
// It returns once ready reports nil, or fails with the log's tail.
func startDaemon(name string, argv, env []string, ready func() error) (*daemon, error) {
	logPath := filepath.Join(suite.root, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
		Unshareflags: syscall.CLONE_NEWNS, // Go also makes / private in it
	}
	call := spawnCall{cmd, make(chan error, 1)}
	spawns <- call
	if err := <-call.err; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	suite.mu.Lock()
	suite.daemons = append(suite.daemons, d)
	suite.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ready()
		if err == nil {
			return d, nil
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("%s exited during start-up (%v):\n%s", name, cmd.ProcessState, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not ready after 60s (%v):\n%s", name, err, tail(logPath))
		}
	}
}

// stopDaemons stops every daemon by its PID, latest first: SIGTERM, then
// SIGKILL to its process group after 20s. It returns the ones that would
// not die.
func stopDaemons() (left []string) {
	suite.mu.Lock()
	ds := append([]*daemon(nil), suite.daemons...)
	suite.mu.Unlock()
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		pid := d.cmd.Process.Pid
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			fmt.Fprintf(os.Stderr, "interop: %s (pid %d) ignored SIGTERM for 20s; killing its process group\n", d.name, pid)
			syscall.Kill(-pid, syscall.SIGKILL)
			select {
			case <-d.exited:
			case <-time.After(10 * time.Second):
				left = append(left, fmt.Sprintf("%s (pid %d) survived SIGKILL", d.name, pid))
			}
		}
		// Anything it started in its group (it should have started none).
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	return left
}

// unmountUnder detaches every mount point under dir, deepest first, and
// reports each one: the daemons' private mount namespaces should have
// left none in ours.
func unmountUnder(dir string) (left []string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			mp := unescapeMount(f[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				mps = append(mps, mp)
			}
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	for _, mp := range mps {
		err := syscall.Unmount(mp, syscall.MNT_DETACH)
		left = append(left, fmt.Sprintf("mount %s was left behind (unmounted: %v)", mp, err == nil))
	}
	return left
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// leftoverProcesses finds processes whose command line names the suite's
// root (so this binary started them, directly or not), kills each by PID
// and reports it.
func leftoverProcesses(root string) (left []string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(b), root) {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		syscall.Kill(pid, syscall.SIGKILL)
		left = append(left, fmt.Sprintf("process %d was left behind (killed): %s", pid, cmdline))
	}
	return left
}

// tail returns the last lines of a log, for start-up errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}

// dialReady reports whether a unix socket accepts connections.
func dialReady(sock string) func() error {
	return func() error {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// dockerReady asks dockerd's API for /_ping.
func dockerReady(sock string) func() error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	return func() error {
		resp, err := client.Get("http://docker/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
}
