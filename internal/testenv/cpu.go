package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmarks of issue 15 report, beside their rates, the CPU time one
// unit of work took (cpu-us/webhook, cpu-us/job, broker-cpu-us/msg, ...).
// A rate moves with whatever else the machine runs; CPU time per unit moves
// much less, and rate target × CPU per unit says how many cores the target
// needs, which scripts/bench.sh compares with the cores the machine has.

// CPUClock counts the CPU time (user and system) one process uses from the
// moment StartCPU made it.
type CPUClock struct {
	pid   int // 0: this process
	start time.Duration
	none  bool // StartBrokerCPU found no broker: the clock reports nothing
}

// StartCPU starts counting the CPU time of process pid; 0 is this process.
func StartCPU(tb testing.TB, pid int) CPUClock {
	tb.Helper()
	used, err := ProcessCPU(pid)
	if err != nil {
		tb.Fatalf("cpu time: %v", err)
	}
	return CPUClock{pid: pid, start: used}
}

// StartBrokerCPU is StartCPU for the test RabbitMQ node (BrokerPID). When
// that is unknown, the clock counts nothing and ReportPerOp reports nothing.
func StartBrokerCPU(tb testing.TB) CPUClock {
	tb.Helper()
	pid := BrokerPID()
	if pid == 0 {
		return CPUClock{none: true}
	}
	return StartCPU(tb, pid)
}

// Used returns the CPU time the process used since StartCPU.
func (c CPUClock) Used(tb testing.TB) time.Duration {
	tb.Helper()
	if c.none {
		return 0
	}
	used, err := ProcessCPU(c.pid)
	if err != nil {
		tb.Fatalf("cpu time: %v", err)
	}
	return used - c.start
}

// ReportPerOp reports the CPU time c counted, in microseconds per one of n
// units, as metric unit (e.g. "cpu-us/webhook").
func (c CPUClock) ReportPerOp(b *testing.B, n int, unit string) {
	b.Helper()
	if n > 0 && !c.none {
		b.ReportMetric(float64(c.Used(b).Microseconds())/float64(n), unit)
	}
}

// ProcessCPU returns the CPU time (user and system, all threads) process
// pid has used so far, from /proc/<pid>/stat; pid 0 is this process.
func ProcessCPU(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) start at
	// state (field 3); utime and stime are fields 14 and 15, in clock ticks.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: %d fields", path, len(fields))
	}
	utime, uerr := strconv.ParseInt(fields[11], 10, 64)
	stime, serr := strconv.ParseInt(fields[12], 10, 64)
	if uerr != nil || serr != nil {
		return 0, fmt.Errorf("%s: utime %q, stime %q", path, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// clockTicks is the kernel's USER_HZ, the unit of the times of
// /proc/<pid>/stat (100 on every Linux architecture Go supports).
const clockTicks = 100

// BrokerPID returns the process ID of the test RabbitMQ node, from the pid
// file NARWHAL_TEST_RABBITMQ_PIDFILE names (scripts/teststack.sh env sets
// it), or 0 when it is not set or names no live process: the broker's CPU
// is then not reported.
func BrokerPID() int {
	data, err := os.ReadFile(os.Getenv("NARWHAL_TEST_RABBITMQ_PIDFILE"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	if _, err := ProcessCPU(pid); err != nil {
		return 0
	}
	return pid
}
