package docker

import (
	"path/filepath"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// A step's output goes to narwhal through a pipe of the host (a FIFO bind
// mounted into the container at pipeTarget) rather than through the engine:
// the step's shell starts with `exec >pipeTarget 2>&1`, so every process of
// the step writes its stdout and stderr straight to the pipe that narwhal
// reads. Through the engine, each byte is copied from the container's pipes
// by containerd's shim, framed by dockerd and sent over the attach socket:
// three copies and two processes that, for a step printing fast, spend more
// CPU than the step and narwhal together (docs/logs.md). Stdout and stderr
// share the one pipe as a terminal's `2>&1` does, so their lines keep the
// order in which the step wrote them, where the engine's two pipes may swap
// lines of different streams.
//
// The container is still attached: what its init or its shell print before
// the redirection (a shell that cannot open the pipe says so there) reaches
// the log as before. Where no pipe can be made (no FIFOs on that system, a
// workspace whose parent is not writable), the step's output goes through
// the engine alone.
const pipeTarget = "/.narwhal/out"

// pipeDirPrefix starts the names of the host directories holding the pipes,
// beside the job's workspace: a crashed runner's are swept with its
// workspaces (workspace.Sweep).
const pipeDirPrefix = ".narwhal-out-"

// pipeDirOf is where the pipes of job's steps are made: the directory of its
// workspace, or "" when the job has none.
func pipeDirOf(workspace string) string {
	if workspace == "" {
		return ""
	}
	return filepath.Dir(workspace)
}

// withPipe changes the spec of a step container (see containerSpec) so that
// its shell writes its output to the FIFO at host path fifo.
func withPipe(cc *container.Config, hc *container.HostConfig, fifo string) {
	ep := append([]string(nil), cc.Entrypoint...)
	ep[len(ep)-1] = "exec >" + pipeTarget + " 2>&1\n" + ep[len(ep)-1]
	cc.Entrypoint = ep
	hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: fifo, Target: pipeTarget})
}
