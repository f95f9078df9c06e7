//go:build !linux

package regtest

import "os/exec"

// dieWithParent has no portable equivalent; Cleanup stops the registry.
func dieWithParent(*exec.Cmd) {}
