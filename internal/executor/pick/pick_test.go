package pick

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestBuildKinds: docker gives the Docker executor with its sweep and
// reclaim, host the host executor, auto the Docker one when the daemon
// answers, and an unknown kind an error.
func TestBuildKinds(t *testing.T) {
	testenv.Image(t) // the Docker tests' stack is up
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	for _, kind := range []string{Docker, Auto, ""} {
		b, err := Build(ctx, Options{Kind: kind, Docker: docker.Config{RunnerID: "pick-test"}}, log)
		if err != nil || b.Kind != Docker || b.Sweep == nil || b.Reclaim == nil || b.Fallback != nil {
			t.Fatalf("kind %q: %+v, %v; want Docker with sweep and reclaim", kind, b, err)
		}
		b.Close()
	}
	if b, err := Build(ctx, Options{Kind: Host}, log); err != nil || b.Kind != Host || b.Sweep != nil {
		t.Errorf("host: %+v, %v", b, err)
	}
	if _, err := Build(ctx, Options{Kind: "vm"}, log); err == nil {
		t.Error("an unknown kind built something")
	}
}

// TestAutoFallsBackToHost: with no daemon answering, auto gives the host
// executor and says why, and docker fails.
func TestAutoFallsBackToHost(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	b, err := Build(ctx, Options{Kind: Auto}, log)
	if err != nil || b.Kind != Host || b.Fallback == nil {
		t.Errorf("auto without Docker: %+v, %v; want host with a reason", b, err)
	}
	if _, err := Build(ctx, Options{Kind: Docker}, log); err == nil {
		t.Error("docker without a daemon: no error")
	}
}
