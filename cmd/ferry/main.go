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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
