package runner

import (
	"strings"
	"syscall"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// diskFullBelow is the free space under which a work dir counts as full: a
// few times the reserves its outbox and log directory hold, which a full
// disk has already given up.
const diskFullBelow = 4 << 20

// noSpace is what a job that failed on a full work dir says about it.
const noSpace = "no space left on device"

// withDiskFull adds noSpace to the error of a job that failed while its
// work dir is (nearly) full, unless the error says so already: a step that
// filled the disk then reads as what it is.
func withDiskFull(status ci.Status, why, workDir string) string {
	if status != ci.StatusFailure && status != ci.StatusError {
		return why
	}
	if strings.Contains(strings.ToLower(why), noSpace) || !diskFull(workDir) {
		return why
	}
	if why == "" {
		return noSpace + ": the work dir's filesystem is full"
	}
	return why + "; " + noSpace + ": the work dir's filesystem is full"
}

// diskFull reports whether the filesystem of dir has less than
// diskFullBelow left; false when it cannot tell.
func diskFull(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return int64(st.Bavail)*int64(st.Bsize) < diskFullBelow
}
