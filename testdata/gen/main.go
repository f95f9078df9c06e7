// Command gen writes ferry's test fixtures (every tool's archive shape and
// the hostile ones) into a directory and prints their list as JSON. Tests
// call internal/shapes directly; this is for people: `make fixtures`.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/oci-ferry/ferry/internal/shapes"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./testdata/gen OUTDIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(os.Args[1], 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fx, err := shapes.Generate(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(fx)
}
