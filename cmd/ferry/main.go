// Command ferry carries container images across an air gap: it saves them
// into self-describing OCI archives, verifies every byte, and loads them on
// the far side. See README.md for the quick start.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(runMain())
}

// runMain is main without the exit, so tests can run the test binary as
// ferry with the same signal handling.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a clean stop; a second one, from a user
	// who will not wait for it, kills as the default action does.
	go func() {
		<-ctx.Done()
		stop()
	}()
	defer startProfile()()
	return run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
}
