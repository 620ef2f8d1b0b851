package dynamo

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
	"github.com/narwhal-ci/narwhal/internal/store/storebench"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// BenchmarkListScale is GET /jobs on a moto table of 1,000, 10,000 and
// 100,000 jobs (issue 15; NARWHAL_BENCH_ROWS=N sets the largest): the newest
// page and a page from a cursor half-way down, each one Query of a GSI. moto
// scans the table for a GSI Query, so its time grows with the table; the
// read units per page (what DynamoDB bills and reads) must not.
func BenchmarkListScale(b *testing.B) {
	testenv.AWSEndpoint(b)
	calls := &awscount.Counter{}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithAPIOptions([]func(*middleware.Stack) error{calls.Register}))
	if err != nil {
		b.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	st := newTable(b, client)
	sizes := []int{1_000, 10_000, 100_000}
	if n, err := strconv.Atoi(os.Getenv("NARWHAL_BENCH_ROWS")); err == nil && n > sizes[1] {
		sizes[2] = n
	}
	storebench.ListScale(b, st, func(ctx context.Context, jobs []ci.Job) error {
		return bulkPut(ctx, client, st.table, jobs)
	}, sizes, func() float64 { return calls.Take().ReadUnits })
}

// bulkPut writes jobs with BatchWriteItem, 25 items a request, the items
// CreateJob would put.
func bulkPut(ctx context.Context, client *dynamodb.Client, table string, jobs []ci.Job) error {
	for len(jobs) > 0 {
		n := min(25, len(jobs))
		var reqs []types.WriteRequest
		for _, j := range jobs[:n] {
			j, err := store.PrepareCreate(j, time.Now())
			if err != nil {
				return err
			}
			item, err := jobItem(j)
			if err != nil {
				return err
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		if err := batchWrite(ctx, client, table, reqs); err != nil {
			return err
		}
		jobs = jobs[n:]
	}
	return nil
}

// batchWrite sends reqs, again with what comes back unprocessed.
func batchWrite(ctx context.Context, client *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	for range 10 {
		out, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs}})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		if reqs = out.UnprocessedItems[table]; len(reqs) == 0 {
			return nil
		}
	}
	return fmt.Errorf("batch write: %d items still unprocessed", len(reqs))
}
