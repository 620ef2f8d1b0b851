package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names the file that a CPU profile of the whole command is
// written to when set (for `go tool pprof`); unset, nothing is profiled.
const profileEnv = "NARWHAL_CPUPROFILE"

// startProfile starts the CPU profile that profileEnv asks for and returns
// the function that stops and writes it. A profile that cannot start is
// reported on stderr and the command runs unprofiled.
func startProfile() (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "narwhal: %s: %v\n", profileEnv, err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "narwhal: %s: %v\n", profileEnv, err)
		}
	}
}
