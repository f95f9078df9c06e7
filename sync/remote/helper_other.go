//go:build !unix

package remote

import "os/exec"

// ownGroup has no process groups to use here: cancellation kills the
// helper itself, and WaitDelay bounds the wait for its children's pipes.
func ownGroup(*exec.Cmd) {}
