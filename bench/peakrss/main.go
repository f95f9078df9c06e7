// Command peakrss runs a command and reports its wall time, CPU time and
// peak resident memory, which the benchmarks print next to each tool's result.
// It exists because GNU time is not on every machine and the kernel's
// rusage already has the number.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	asJSON := false
	if len(args) > 0 && args[0] == "-json" {
		asJSON, args = true, args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: peakrss [-json] -- CMD ARGS…")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			fmt.Fprintln(os.Stderr, "peakrss:", err)
			os.Exit(127)
		}
	}
	// CPU time (user+system) tells a tool that waits from one that
	// works: on a machine whose cores the registry shares, it bounds how
	// fast any run can be.
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var kib int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kib = ru.Maxrss // KiB on Linux
	}
	if asJSON {
		json.NewEncoder(os.Stderr).Encode(map[string]any{"wall": wall.Seconds(), "maxrss_kib": kib, "cpu": cpu.Seconds(), "exit": code})
	} else {
		fmt.Fprintf(os.Stderr, "rss: wall=%.3fs cpu=%.3fs maxrss=%.1fMiB exit=%d\n", wall.Seconds(), cpu.Seconds(), float64(kib)/1024, code)
	}
	os.Exit(code)
}
