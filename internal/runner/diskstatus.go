package runner

import "syscall"

// diskStatus is Deps.DiskStatus, or the use of the work dir's filesystem
// without pressure when there is none.
func (r *Runner) diskStatus() (usedPercent float64, pressure string) {
	if r.deps.DiskStatus != nil {
		return r.deps.DiskStatus()
	}
	return diskUsed(r.cfg.WorkDir), ""
}

// diskPressure is why the runner's disk is under pressure, or "".
func (r *Runner) diskPressure() string {
	if r.deps.DiskStatus == nil {
		return ""
	}
	_, pressure := r.deps.DiskStatus()
	return pressure
}

// DiskChanged sends a heartbeat now, outside the ticks: call it (after
// Start) when Deps.DiskStatus's pressure starts or ends, so that the
// dispatcher stops, or resumes, offering jobs at once. A closed runner
// sends nothing.
func (r *Runner) DiskChanged() {
	r.mu.Lock()
	closed := r.st.closed
	r.mu.Unlock()
	if !closed {
		r.heartbeat("")
	}
}

// diskUsed is how full the filesystem of dir is, as df counts it, or 0
// when it cannot tell.
func diskUsed(dir string) float64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	used := float64(st.Blocks - st.Bfree)
	if total := used + float64(st.Bavail); total > 0 {
		return used * 100 / total
	}
	return 0
}
