package s3test

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the gateway die with the test binary, even one
// killed by a signal, so no server outlives its test.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
