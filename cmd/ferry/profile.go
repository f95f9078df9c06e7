package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// writeHeapProfile writes what the heap still holds at the end of a run to
// the file named by FERRY_HEAPPROFILE, when set: memory that grows with
// image count stays live to the end, so this is where it shows.
func writeHeapProfile() {
	name := os.Getenv("FERRY_HEAPPROFILE")
	if name == "" {
		return
	}
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry: FERRY_HEAPPROFILE: %v\n", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintf(os.Stderr, "ferry: FERRY_HEAPPROFILE: %v\n", err)
	}
}

// startProfile writes a CPU profile of the whole run to the file named by
// FERRY_CPUPROFILE, when set: the scale benchmark's per-blob costs are
// found from a real run of the command, not from a test's approximation.
// The returned stop flushes it; a profile that cannot be started is
// reported and the run goes on unprofiled.
func startProfile() (stop func()) {
	name := os.Getenv("FERRY_CPUPROFILE")
	if name == "" {
		return writeHeapProfile
	}
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry: FERRY_CPUPROFILE: %v\n", err)
		return writeHeapProfile
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "ferry: FERRY_CPUPROFILE: %v\n", err)
		f.Close()
		return writeHeapProfile
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		writeHeapProfile()
	}
}
