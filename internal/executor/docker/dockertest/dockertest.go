// Package dockertest gives tests a private image: the test image pushed into
// the test stack's password-protected registry (Debian docker-registry with
// htpasswd auth, started by scripts/teststack.sh), through the Docker SDK.
package dockertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// Private is an image only the registry's credentials can pull.
type Private struct {
	Image string // host/narwhal-test/busybox:<unique tag>, not in the engine
	Auth  executor.RegistryAuth
}

var seq atomic.Int64

// PrivateImage pushes the test image into the private registry under a tag
// of its own and removes that tag from the engine, so that a job must pull
// it; the tag leaves the engine again at the end of the test.
func PrivateImage(t *testing.T) Private {
	t.Helper()
	p := registryFromEnv(t)
	p.Image = fmt.Sprintf("%s/narwhal-test/busybox:t%d-%d-%d", p.Auth.Host, os.Getpid(), time.Now().UnixNano(), seq.Add(1))
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	if err := cli.ImageTag(ctx, testenv.Image(t), p.Image); err != nil {
		t.Fatalf("tag %s: %v", p.Image, err)
	}
	untag := func() { cli.ImageRemove(context.Background(), p.Image, image.RemoveOptions{}) }
	defer untag()
	if err := push(ctx, cli, p); err != nil {
		t.Fatalf("push %s: %v", p.Image, err)
	}
	t.Cleanup(func() {
		if c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err == nil {
			c.ImageRemove(context.Background(), p.Image, image.RemoveOptions{})
			c.Close()
		}
	})
	return p
}

func push(ctx context.Context, cli *client.Client, p Private) error {
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: p.Auth.Username, Password: p.Auth.Password, ServerAddress: p.Auth.Host})
	if err != nil {
		return err
	}
	rc, err := cli.ImagePush(ctx, p.Image, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer rc.Close()
	return jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil)
}

// registryFromEnv reads the registry's address and credentials and checks
// that it answers and wants them.
func registryFromEnv(t *testing.T) Private {
	t.Helper()
	host, user, pw := os.Getenv("NARWHAL_TEST_REGISTRY"), os.Getenv("NARWHAL_TEST_REGISTRY_USER"), os.Getenv("NARWHAL_TEST_REGISTRY_PASSWORD")
	if host == "" || user == "" || pw == "" {
		testenv.Missing(t, "the private registry (NARWHAL_TEST_REGISTRY*)")
	}
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		testenv.Missing(t, "the private registry at "+host)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("registry %s answers /v2/ without credentials with %s, want 401", host, resp.Status)
	}
	return Private{Auth: executor.RegistryAuth{Host: host, Username: user, Password: pw}}
}
