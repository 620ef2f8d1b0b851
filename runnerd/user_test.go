package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// unprivilegedName is the user the unprivileged runnerd tests run it as, a
// member of the docker group like the shipped unit's narwhal user.
const unprivilegedName = "narwhal-test"

// osUser is an unprivileged user a runnerd process runs as.
type osUser struct {
	uid, gid, docker uint32 // docker: the docker group, for the engine's socket
}

// unprivileged returns the test's unprivileged user, creating it when missing
// (the tests run as root); it skips (fails in CI) where that cannot be done
// or the engine's socket is not open to the docker group.
func unprivileged(t *testing.T) *osUser {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to run runnerd as another user")
	}
	g, err := user.LookupGroup("docker")
	if err != nil {
		testenv.Missing(t, "the docker group ("+err.Error()+")")
	}
	if fi, err := os.Stat("/var/run/docker.sock"); err != nil || fi.Sys().(*syscall.Stat_t).Gid != uatoi(t, g.Gid) || fi.Mode()&0o060 != 0o060 {
		testenv.Missing(t, "a Docker socket open to the docker group (scripts/teststack.sh up sets it)")
	}
	u, err := user.Lookup(unprivilegedName)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--groups", "docker", "--shell", "/usr/sbin/nologin", unprivilegedName).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			testenv.Missing(t, fmt.Sprintf("user %s (useradd: %v: %s)", unprivilegedName, err, out))
		}
		if u, err = user.Lookup(unprivilegedName); err != nil {
			t.Fatal(err)
		}
	}
	return &osUser{uid: uatoi(t, u.Uid), gid: uatoi(t, u.Gid), docker: uatoi(t, g.Gid)}
}

// attr makes a process run as u, in the docker group, with CAP_NET_ADMIN for
// the network guard: as the shipped systemd unit runs runnerd.
func (u *osUser) attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{u.docker}},
		AmbientCaps: []uintptr{capNetAdmin},
	}
}

// capNetAdmin is CAP_NET_ADMIN (linux/capability.h).
const capNetAdmin = 12

// handOver gives dir and everything in it to u, and lets u pass through the
// directories above it up to the temp dir.
func (u *osUser) handOver(t testing.TB, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.uid), int(u.gid))
	})
	if err != nil {
		t.Fatalf("hand %s over: %v", dir, err)
	}
	openAncestors(t, dir)
}

// openAncestors adds search permission for everyone to the directories above
// dir, up to the temp dir.
func openAncestors(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
			t.Fatal(err)
		}
	}
}

func uatoi(t testing.TB, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// TestUnprivilegedRunnerdRemovesRootOwnedWorkspace: runnerd running as an
// unprivileged user in the docker group (as the shipped systemd unit runs it)
// removes the workspace of a job whose root step wrote out/obj into it.
// Issue 10, case 5.
func TestUnprivilegedRunnerdRemovesRootOwnedWorkspace(t *testing.T) {
	t.Parallel()
	image := dockerReady(t)
	u := unprivileged(t)
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, fmt.Sprintf(`image: %s
steps:
  - name: build
    commands:
      - mkdir -p out/obj && echo built > out/obj/main.o && chmod 755 out/obj
      - ls -ln out/obj
`, image))
	u.handOver(t, strings.TrimPrefix(repo, "file://")) // git refuses a repository of another owner
	p := startRunnerd(t, daemonOpts{executor: "docker", amqpURL: url, amqpPrefx: prefix, user: u})
	id := newJobID("rootfiles")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	if final := evs.final(t, id, 60*time.Second); final.Status != ci.StatusSuccess {
		t.Fatalf("final report: %+v\n%s", final, p.Log())
	}
	if strings.Contains(p.Log(), "kept apart only by the engine") {
		t.Fatalf("runnerd with CAP_NET_ADMIN could not guard its networks:\n%s", p.Log())
	}
	jobs := filepath.Join(p.dir, "work", jobsDir)
	eventually(t, 30*time.Second, "the workspace removed", func() bool {
		entries, err := os.ReadDir(jobs)
		return err == nil && len(entries) == 0
	})
}
