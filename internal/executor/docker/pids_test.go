package docker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestPidsLimitHoldsForkBomb checks the limit where the kernel keeps it: the
// step's pids cgroup has pids.max set to the limit, counts refused forks in
// pids.events ("max N"), and never held more than the limit (pids.peak, where
// the kernel has it). Sampling the process count cannot prove this: with
// Init the bomb's children are reaped between samples.
func TestPidsLimitHoldsForkBomb(t *testing.T) {
	t.Parallel()
	const limit = 64
	e, img := newTestExecutor(t, Config{PidsLimit: limit, StopGrace: time.Second})
	cli := dockerClient(t)
	localCgroups(t)
	job := newJob(t)
	defer teardown(t, e, job)

	watched := make(chan pidsRecord, 1)
	stop := make(chan struct{})
	go func() { watched <- watchPids(cli, job.ID, stop) }()
	// The step's shell forks once, before the bomb goes off, then waits on a
	// FIFO with builtins only (again when a SIGCHLD interrupts the open): a
	// refused fork cannot end it before the timeout.
	bomb := []string{"mkfifo /tmp/wait", "bomb() { bomb | bomb & }; (bomb) &", "while :; do read x </tmp/wait || :; done"}
	step := &executor.Step{Name: "bomb", Image: img, Commands: bomb, Timeout: 3 * time.Second}
	var out tail
	res, err := e.Run(context.Background(), job, step, &out)
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	rec := <-watched
	if rec.err != nil {
		t.Fatalf("read the step's pids cgroup: %v (result %+v)\n%s", rec.err, res, out.String())
	}
	if !res.TimedOut && res.ExitCode == 0 {
		t.Errorf("result %+v: the bomb neither hit the timeout nor failed", res)
	}
	if !strings.Contains(out.String(), "can't fork") {
		t.Errorf("no fork failure in the output; last output:\n%s", out.String())
	}
	t.Logf("kernel record: %+v", rec)
	assertPidsRecord(t, rec, limit)
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot fork after the bomb: %v", err)
	}
}

// localCgroups skips the test (fails it in CI) unless the engine runs on this
// host, whose cgroup file system the test reads.
func localCgroups(t *testing.T) {
	t.Helper()
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		testenv.Missing(t, "a local Docker engine (DOCKER_HOST is "+h+")")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		testenv.Missing(t, "the host's cgroup file system ("+err.Error()+")")
	}
}

// assertPidsRecord fails the test unless rec shows the kernel holding limit.
func assertPidsRecord(t *testing.T, rec pidsRecord, limit int64) {
	t.Helper()
	if rec.max != strconv.FormatInt(limit, 10) {
		t.Errorf("pids.max is %q, want %d", rec.max, limit)
	}
	if rec.refused == 0 {
		t.Errorf("pids.events counts no fork refused at the limit")
	}
	if rec.peak >= 0 && (rec.peak > limit || rec.peak < limit/2) {
		t.Errorf("pids.peak %d, want the bomb to reach near the limit %d but not beyond", rec.peak, limit)
	}
}

// pidsRecord is what the kernel recorded in a container's pids cgroup.
type pidsRecord struct {
	max     string // pids.max
	refused int64  // the "max" count of pids.events: forks refused at the limit
	peak    int64  // pids.peak, -1 where the kernel lacks it
	err     error  // the cgroup could not be found or read
}

// watchPids finds the running container of job jobID and reads its pids
// cgroup until stop is closed, returning the last reading: the counters only
// grow, and the cgroup goes away with the container (a cgroup being removed
// may read empty).
func watchPids(cli *client.Client, jobID string, stop <-chan struct{}) pidsRecord {
	rec := pidsRecord{err: fmt.Errorf("no running container of job %s seen", jobID)}
	dir := ""
	for {
		select {
		case <-stop:
			return rec
		case <-time.After(20 * time.Millisecond):
		}
		if dir == "" {
			dir, rec.err = pidsCgroup(cli, jobID)
			continue
		}
		if r, err := readPids(dir); err == nil && r.max != "" {
			rec = r
		}
	}
}

// pidsCgroup returns the host directory of the pids cgroup of the job's
// running container, "" (and an error saying why) if there is none yet.
func pidsCgroup(cli *client.Client, jobID string) (string, error) {
	ctx := context.Background()
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filtersFor(LabelJob + "=" + jobID)})
	if err != nil || len(list) == 0 {
		return "", fmt.Errorf("no running container of job %s seen (%v)", jobID, err)
	}
	info, err := cli.ContainerInspect(ctx, list[0].ID)
	if err != nil || info.State == nil || info.State.Pid == 0 {
		return "", fmt.Errorf("inspect container %s: no pid (%v)", list[0].ID, err)
	}
	return cgroupDir(info.State.Pid, "pids")
}

// cgroupDir returns the directory of the cgroup of process pid for the v1
// controller, or its unified (v2) cgroup where there is no v1 hierarchy.
func cgroupDir(pid int, controller string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() { // hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = filepath.Join("/sys/fs/cgroup", parts[2])
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", controller, parts[2]), nil
			}
		}
	}
	if unified == "" {
		return "", fmt.Errorf("process %d has no %s cgroup", pid, controller)
	}
	return unified, sc.Err()
}

// readPids reads pids.max, pids.events and pids.peak in dir.
func readPids(dir string) (pidsRecord, error) {
	rec := pidsRecord{peak: -1}
	max, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	if err != nil {
		return rec, err
	}
	rec.max = strings.TrimSpace(string(max))
	events, err := os.ReadFile(filepath.Join(dir, "pids.events"))
	if err != nil {
		return rec, err
	}
	for _, line := range strings.Split(string(events), "\n") {
		if n, ok := strings.CutPrefix(line, "max "); ok {
			rec.refused, _ = strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		}
	}
	if peak, err := os.ReadFile(filepath.Join(dir, "pids.peak")); err == nil {
		rec.peak, _ = strconv.ParseInt(strings.TrimSpace(string(peak)), 10, 64)
	}
	return rec, nil
}
