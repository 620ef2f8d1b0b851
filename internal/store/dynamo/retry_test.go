package dynamo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// replayHTTP sends every PutItem and UpdateItem twice while replay is set and answers with
// the second answer: what the SDK does when the first answer is lost (a
// dropped connection, a bad CRC32 from the service) and it retries.
type replayHTTP struct {
	next   dynamodb.HTTPClient
	replay atomic.Bool
}

func (r *replayHTTP) Do(req *http.Request) (*http.Response, error) {
	target := req.Header.Get("X-Amz-Target")
	if !r.replay.Load() || !(strings.HasSuffix(target, ".PutItem") || strings.HasSuffix(target, ".UpdateItem")) {
		return r.next.Do(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	first := req.Clone(req.Context())
	first.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := r.next.Do(first)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	return r.next.Do(req)
}

// TestRetriedWritesSucceedOnce: a create (its build number's raise
// included) and an update whose first answer was lost succeed, each written
// once, and a real conflict is still one.
func TestRetriedWritesSucceedOnce(t *testing.T) {
	testenv.AWSEndpoint(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rh := &replayHTTP{}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { rh.next = o.HTTPClient; o.HTTPClient = rh })
	st := newTable(t, client)
	ctx := context.Background()
	rh.replay.Store(true)
	j, err := st.CreateJob(ctx, ci.Job{ID: "retried01", Repo: "acme/app", SHA: strings.Repeat("a", 40), Status: ci.StatusQueued})
	if err != nil || j.Number != 1 {
		t.Fatalf("create, retried: #%d, %v; want #1", j.Number, err)
	}
	j.Status = ci.StatusAssigned
	next, err := st.UpdateJob(ctx, j)
	if err != nil || next.Version != j.Version+1 {
		t.Fatalf("update, retried: %+v, %v; want version %d", next, err, j.Version+1)
	}
	rh.replay.Store(false)
	got, err := st.GetJob(ctx, j.ID)
	if err != nil || got.Version != next.Version || got.Status != ci.StatusAssigned {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if _, err := st.UpdateJob(ctx, j); !errors.Is(err, ci.ErrConflict) {
		t.Errorf("a stale update: %v, want a conflict", err)
	}
	second, err := st.CreateJob(ctx, ci.Job{ID: "retried02", Repo: "acme/app", SHA: strings.Repeat("b", 40), Status: ci.StatusQueued})
	if err != nil || second.Number != 2 {
		t.Errorf("the next create: #%d, %v; want #2 (no number lost to the retry)", second.Number, err)
	}
}
