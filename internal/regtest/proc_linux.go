package regtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the registry die with the test binary, even one
// killed by a signal, so no registry outlives its test.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
