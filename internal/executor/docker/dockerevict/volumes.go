package dockerevict

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
)

// labelAnonymous marks the anonymous volumes of Docker 23 and later.
const labelAnonymous = "com.docker.volume.anonymous"

// Volumes is the evictor of dangling volumes (no container refers to them)
// that narwhal's executor made (label docker.LabelManaged) or that are
// anonymous; a named volume someone else made is kept. Last used is when
// it was created; removal is not forced, so Docker refuses a volume a
// container has mounted since.
func (d *Docker) Volumes() diskguard.Evictor { return volumes{d} }

type volumes struct{ d *Docker }

func (volumes) Name() string { return "docker volumes" }

// Candidates lists the dangling volumes of narwhal and the anonymous ones.
func (e volumes) Candidates(ctx context.Context) ([]diskguard.Candidate, error) {
	resp, err := e.d.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []diskguard.Candidate
	for _, v := range resp.Volumes {
		if v == nil || !evictable(v) {
			continue
		}
		name := v.Name
		created, _ := time.Parse(time.RFC3339, v.CreatedAt) // zero (oldest) when the engine says nothing
		var size int64
		if v.UsageData != nil {
			size = max(v.UsageData.Size, 0)
		}
		out = append(out, diskguard.Candidate{What: "volume " + name, Path: e.d.root, LastUsed: created, Bytes: size,
			Remove: func(ctx context.Context) error {
				if err := e.d.cli.VolumeRemove(ctx, name, false); err != nil {
					return fmt.Errorf("remove volume %s: %w", name, err)
				}
				return nil
			}})
	}
	return out, nil
}

// evictable: narwhal made v, or it is anonymous (labelled so, or, before
// Docker 23, unlabelled with a name of 64 hex digits).
func evictable(v *volume.Volume) bool {
	if v.Labels[docker.LabelManaged] == "true" {
		return true
	}
	if _, ok := v.Labels[labelAnonymous]; ok {
		return true
	}
	return len(v.Labels) == 0 && anonymousName(v.Name)
}

func anonymousName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
