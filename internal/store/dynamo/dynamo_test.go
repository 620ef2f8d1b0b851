package dynamo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// newClient builds the client the way production does; testenv.AWSEndpoint
// has pointed the SDK's environment at moto_server. The one test-side change
// is serialHTTP (below); give each table its own client.
func newClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = &serialHTTP{next: o.HTTPClient}
	})
}

// serialHTTP lets one request at a time through. moto_server serves
// requests on threads and evaluates a condition and applies the write without
// a lock, so two conditional writes of one item can both pass (seen here: a
// lost update in UpdateNoLostUpdate about once in a dozen runs under load).
// DynamoDB evaluates conditions atomically; serialising the requests of a
// client makes moto behave the same, while goroutines still interleave between
// their reads and conditional writes, so conflicts and retries still happen.
// moto answers only after the write is done, so releasing the lock when the
// response arrives is enough.
type serialHTTP struct {
	mu   sync.Mutex
	next dynamodb.HTTPClient
}

func (s *serialHTTP) Do(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.Do(r)
}

// newTable creates a table of its own for one test and deletes it afterwards.
func newTable(t testing.TB, client *dynamodb.Client) *Store {
	t.Helper()
	table := "narwhal-test-" + rand.Text()[:12]
	st := New(client, table)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.CreateTable(ctx); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The SDK retries a DeleteTable whose answer it could not read (moto
		// sometimes sends a bad CRC32), and the retry finds the table gone.
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
		if err != nil && !errors.As(err, new(*types.ResourceNotFoundException)) {
			t.Errorf("delete table %s: %v", table, err)
		}
	})
	return st
}

func TestContract(t *testing.T) {
	testenv.AWSEndpoint(t) // sets the environment: this test itself is not parallel
	storetest.Run(t, func(t *testing.T) ci.Store { return newTable(t, newClient(t)) })
}

// TestCreateTableIdempotent shows that CreateTable on an existing table (a
// second `narwhal dev` start, a rerun of the LocalStack init) is harmless and
// leaves TTL enabled.
func TestCreateTableIdempotent(t *testing.T) {
	testenv.AWSEndpoint(t)
	client := newClient(t)
	st := newTable(t, client)
	ctx := context.Background()
	if _, err := st.CreateJob(ctx, ci.Job{ID: "job-1", Status: ci.StatusQueued}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTable(ctx); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	if _, err := st.GetJob(ctx, "job-1"); err != nil {
		t.Errorf("job lost by the second CreateTable: %v", err)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &st.table})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.AttributeName == nil || *d.AttributeName != attrTTL ||
		d.TimeToLiveStatus != "ENABLED" {
		t.Errorf("TTL = %+v, want enabled on %q", d, attrTTL)
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &st.table})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(desc.Table.GlobalSecondaryIndexes); got != len(indexes) {
		t.Errorf("table has %d GSIs, want %d", got, len(indexes))
	}
}

// TestBranchShortPages shrinks the read budget of a branch-filtered listing:
// pages come back short (even empty) with a cursor, and following the
// cursors still yields every match once, newest first.
func TestBranchShortPages(t *testing.T) {
	testenv.AWSEndpoint(t)
	st := newTable(t, newClient(t))
	st.rounds, st.batch = 2, 3
	ctx := context.Background()
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 20 {
		j := ci.Job{ID: fmt.Sprintf("job-%02d", i), Repo: "a/x", Branch: "main", Status: ci.StatusQueued,
			CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if i%5 == 0 {
			j.Branch = "rare"
			want = append([]string{j.ID}, want...)
		}
		if _, err := st.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	short := 0
	f := ci.JobFilter{Repo: "a/x", Branch: "rare", Limit: 2}
	for range 50 {
		page, err := st.ListJobs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.Cursor == "" {
			break
		}
		if len(page.Jobs) < f.Limit {
			short++
		}
		f.Cursor = page.Cursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if short == 0 {
		t.Error("no short page with a cursor: the read budget did not bind")
	}
}
