// Package dockerevict gives internal/diskguard the Docker engine's share of a
// runner's disk: images no container uses and dangling volumes. It sits
// beside the Docker executor, the only other user of the Docker SDK.
package dockerevict

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// Docker is a client of the engine with the record of when containers last
// used each image (Watch). Its evictors are Images and Volumes.
type Docker struct {
	cli  *client.Client
	root string
	log  *slog.Logger

	mu   sync.Mutex
	used map[string]time.Time // image reference (normalized) or ID -> last container created from it
}

// Open connects to the engine of the environment (DOCKER_HOST and so on,
// negotiating the API version) and asks it for its data root, the path
// whose filesystem image and volume evictions free. log nil discards.
func Open(ctx context.Context, log *slog.Logger) (*Docker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker evictors: client: %w", err)
	}
	info, err := cli.Info(ctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker evictors: engine info: %w", err)
	}
	return &Docker{cli: cli, root: info.DockerRootDir, log: log, used: map[string]time.Time{}}, nil
}

// Root is the engine's data root (DockerRootDir): the path to watch. An
// engine on another host or in another mount namespace has a root this host
// may not see; the guard then measures nothing there and evicts nothing of
// it.
func (d *Docker) Root() string { return d.root }

// Close closes the client.
func (d *Docker) Close() error { return d.cli.Close() }

// Watch records, until ctx ends, the image of every container the engine
// creates, at the time it does: an image's last use is the last such
// record (else its creation). It reconnects after a broken event stream.
func (d *Docker) Watch(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := d.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("docker evictors: event stream broken; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// follow records container creations until the stream or ctx ends.
func (d *Docker) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errs := d.cli.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionCreate)))})
	for {
		select {
		case m := <-msgs:
			if ref := m.Actor.Attributes["image"]; ref != "" {
				d.Used(ref, time.Unix(0, m.TimeNano))
			}
		case err := <-errs:
			return err
		}
	}
}

// Used records that a container used the image ref (a reference or an ID)
// at t.
func (d *Docker) Used(ref string, t time.Time) {
	key := normalize(ref)
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.After(d.used[key]) {
		d.used[key] = t
	}
}

// lastUsed is the latest recorded use of any of refs, or zero.
func (d *Docker) lastUsed(refs ...string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var last time.Time
	for _, r := range refs {
		if t := d.used[normalize(r)]; t.After(last) {
			last = t
		}
	}
	return last
}

// normalize makes "busybox" and "docker.io/library/busybox:latest" one
// key; what does not parse (an image ID) is its own key.
func normalize(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}
