//go:build unix

package remote

import (
	"os/exec"
	"syscall"
)

// ownGroup starts a credential helper in a process group of its own and
// makes cancellation kill the whole group: helpers are often scripts, and
// killing only the shell would leave its children holding the output pipe.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
