package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// reclaimDir is where Reclaim's container sees the directory it gives back.
const reclaimDir = "/reclaim"

// Reclaim gives everything under dir back to the user and group of this
// process, so that it can remove dir: steps run as root in their containers
// and leave root-owned files in the workspace, which a runner running as an
// unprivileged user (the shipped systemd unit) cannot delete. It runs
// `chown -R` as root in a short-lived container of the image of the last step
// this executor ran (an image with a shell, known to be present), with dir
// bind-mounted and no network. It is a no-op for a root process; it fails
// when no step has run yet.
func (e *Executor) Reclaim(ctx context.Context, dir string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	img, _ := e.lastImage.Load().(string)
	if img == "" {
		return fmt.Errorf("reclaim %s: no image known to run chown in", dir)
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("reclaim %s: not an absolute path", dir)
	}
	owner := strconv.Itoa(os.Geteuid()) + ":" + strconv.Itoa(os.Getegid())
	cc, hc := reclaimSpec(e.cfg, img, dir, owner)
	id, err := e.create(ctx, nil, cc, hc, nil)
	if err != nil {
		return fmt.Errorf("reclaim %s: %w", dir, err)
	}
	defer e.api.ContainerRemove(context.WithoutCancel(ctx), id, container.RemoveOptions{Force: true})
	if err := e.api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("reclaim %s: start container: %w", dir, err)
	}
	res, err := e.wait(ctx, id, 0)
	if err == nil && res.ExitCode != 0 {
		err = errors.New("chown exited with " + strconv.Itoa(res.ExitCode))
	}
	if err != nil {
		return fmt.Errorf("reclaim %s: %w", dir, err)
	}
	return nil
}

// reclaimSpec is the container that chowns dir to owner (uid:gid): root, no
// network, labelled as this runner's so that Sweep removes it after a crash.
func reclaimSpec(cfg Config, img, dir, owner string) (*container.Config, *container.HostConfig) {
	cc := &container.Config{
		Image:      img,
		User:       "0:0",
		Entrypoint: []string{"/bin/sh", "-c", `exec chown -R "$0" ` + reclaimDir, owner},
		Labels:     map[string]string{LabelManaged: "true", LabelRunner: cfg.RunnerID},
	}
	hc := &container.HostConfig{
		NetworkMode: "none",
		SecurityOpt: []string{"no-new-privileges"},
		Mounts:      []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: reclaimDir}},
		LogConfig:   container.LogConfig{Type: "none"},
	}
	return cc, hc
}
