package dynamo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// interleaveHTTP loses the answer of the first claim of a build number it
// sees and, before the SDK's retry of it goes out, lets between run (another
// create of the same repository, through a client of its own).
type interleaveHTTP struct {
	next    dynamodb.HTTPClient
	between func()
	done    atomic.Bool
}

func (h *interleaveHTTP) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	claim := strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".PutItem") && bytes.Contains(body, []byte(`"NUM#`))
	if !claim || h.done.Swap(true) {
		return h.next.Do(req)
	}
	resp, err := h.next.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h.between()
	return nil, errors.New("connection reset (test): the claim's answer is lost")
}

// TestRetriedClaimAfterAnother: a create whose claim of a build number is
// written but whose answer is lost, while another create of the repository
// claims the next number before the SDK retries, keeps the number it
// claimed: the two jobs are #1 and #2, and the next is #3 (a counter raised
// again by the retry gave #1 away, numbering them #2 and #3).
func TestRetriedClaimAfterAnother(t *testing.T) {
	testenv.AWSEndpoint(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other := newTable(t, newClient(t))
	h := &interleaveHTTP{}
	lossy := New(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { h.next = o.HTTPClient; o.HTTPClient = h }), other.table)
	var between ci.Job
	h.between = func() {
		between, err = other.CreateJob(ctx, ci.Job{ID: "between1", Repo: "acme/app", Status: ci.StatusQueued})
		if err != nil {
			t.Errorf("the create in between: %v", err)
		}
	}
	first, err := lossy.CreateJob(ctx, ci.Job{ID: "lossy001", Repo: "acme/app", Status: ci.StatusQueued})
	if err != nil || first.Number != 1 || between.Number != 2 {
		t.Fatalf("the retried create #%d (%v), the one in between #%d; want #1 and #2", first.Number, err, between.Number)
	}
	if !h.done.Load() {
		t.Fatal("no claim went through the lossy client")
	}
	next, err := other.CreateJob(ctx, ci.Job{ID: "after001", Repo: "acme/app", Status: ci.StatusQueued})
	if err != nil || next.Number != 3 {
		t.Errorf("the next create: #%d, %v; want #3", next.Number, err)
	}
}

// A repository numbered by the counter item of earlier versions goes on
// after the counter's last.
func TestNumbersAfterTheOldCounter(t *testing.T) {
	testenv.AWSEndpoint(t)
	ctx := context.Background()
	st := newTable(t, newClient(t))
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: map[string]types.AttributeValue{
		attrPK: s(repoPrefix + "acme/app"), attrSK: s(numberSK), attrLast: n(7), "last_job": s("old"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{8, 9} {
		j, err := st.CreateJob(ctx, ci.Job{ID: fmt.Sprintf("new%05d", i), Repo: "acme/app", Status: ci.StatusQueued})
		if err != nil || j.Number != want {
			t.Errorf("create %d: #%d, %v; want #%d", i, j.Number, err, want)
		}
	}
}
