package runner

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// loadAverage returns the host's 1-minute load average from /proc/loadavg,
// or 0 where there is none.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), " ")
	v, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0
	}
	return v
}

// fmtLoad formats a load average for a message header.
func fmtLoad(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// freeDisk returns the bytes available to unprivileged users on the file
// system holding dir, or 0 when it cannot tell.
func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
