// Command mkfixtures writes ferry's oracle fixtures (internal/fixtures):
// every tool's layout/archive shape and the hostile ones.
//
//	go run ./testdata/mkfixtures OUTDIR
//
// prints the list, with what a reader must make of each, as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/oci-ferry/ferry/internal/fixtures"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./testdata/mkfixtures OUTDIR")
		os.Exit(2)
	}
	fx, err := fixtures.Generate(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkfixtures:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fx); err != nil {
		fmt.Fprintln(os.Stderr, "mkfixtures:", err)
		os.Exit(1)
	}
}
