package dockerevict

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/narwhal-ci/narwhal/internal/diskguard"
)

// Images is the evictor of the images no container (running or stopped)
// uses. An image's last use is the last container created from it since
// Watch began, else its creation time. Removal is never forced: each of
// its tags is removed (the last one deletes the image), and Docker refuses
// an image a container has started to use since.
func (d *Docker) Images() diskguard.Evictor { return images{d} }

type images struct{ d *Docker }

func (images) Name() string { return "docker images" }

// Candidates lists the top-level images no container uses.
func (e images) Candidates(ctx context.Context) ([]diskguard.Candidate, error) {
	inUse, err := e.d.imagesInUse(ctx, filters.NewArgs())
	if err != nil {
		return nil, err
	}
	imgs, err := e.d.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []diskguard.Candidate
	for _, img := range imgs {
		if inUse[img.ID] {
			continue
		}
		last := e.d.lastUsed(append([]string{img.ID}, img.RepoTags...)...)
		if last.IsZero() {
			last = time.Unix(img.Created, 0)
		}
		out = append(out, diskguard.Candidate{What: "image " + imageName(img), Path: e.d.root, LastUsed: last,
			Bytes: max(img.Size, 0), Remove: func(ctx context.Context) error { return e.d.removeImage(ctx, img) }})
	}
	return out, nil
}

// imagesInUse returns the IDs of the images of the containers f selects.
func (d *Docker) imagesInUse(ctx context.Context, f filters.Args) (map[string]bool, error) {
	cs, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	inUse := map[string]bool{}
	for _, c := range cs {
		inUse[c.ImageID] = true
	}
	return inUse, nil
}

// errInUse: a container uses the image.
var errInUse = errors.New("a container uses it")

// removeImage removes img's tags (or img by ID when it has none), unforced,
// unless a container uses it now.
func (d *Docker) removeImage(ctx context.Context, img image.Summary) error {
	inUse, err := d.imagesInUse(ctx, filters.NewArgs(filters.Arg("ancestor", img.ID)))
	if err != nil {
		return fmt.Errorf("remove image %s: %w", imageName(img), err)
	}
	if len(inUse) > 0 {
		return fmt.Errorf("remove image %s: %w", imageName(img), errInUse)
	}
	refs := tags(img)
	if len(refs) == 0 {
		refs = []string{img.ID}
	}
	for _, ref := range refs {
		if _, err := d.cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
			return fmt.Errorf("remove image %s: %w", ref, err)
		}
	}
	return nil
}

// tags are img's tags, without the "<none>:<none>" of older engines.
func tags(img image.Summary) []string {
	var out []string
	for _, t := range img.RepoTags {
		if t != "<none>:<none>" {
			out = append(out, t)
		}
	}
	return out
}

// imageName is the first tag of img, else its ID.
func imageName(img image.Summary) string {
	if ts := tags(img); len(ts) > 0 {
		return ts[0] + " (" + shortID(img.ID) + ")"
	}
	return img.ID
}

func shortID(id string) string {
	if len(id) > 19 {
		return id[:19] // "sha256:" and 12 digits
	}
	return id
}
