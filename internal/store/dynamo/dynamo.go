// Package dynamo is the ci.Store of the deployed system: one DynamoDB table in
// a single-table design (docs/store.md). Jobs are items keyed "JOB#<id>" that
// carry their main fields (repo, sha, status, ...) as attributes, with five
// GSIs for the listings and by-sha for "the job of this commit"; runners
// share one partition so that listing them is a Query, and carry a TTL
// attribute.
//
// Every item holds its whole record as JSON in "doc", beside the attributes
// derived from it, so reading is one json.Unmarshal and the mapping cannot
// drift from the SQLite store's. Items of the first layout (opaque gsiNpk
// keys) still read; Migrate moves them into the current indexes.
//
// The client comes from config.LoadDefaultConfig: AWS_ENDPOINT_URL (or
// AWS_ENDPOINT_URL_DYNAMODB) points it at LocalStack or moto without a code
// branch.
package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// api is the part of the DynamoDB client the store uses.
type api interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// Store is a ci.Store in one DynamoDB table. It is safe for concurrent use.
type Store struct {
	db    api
	table string
	now   func() time.Time
	// rounds and batch bound the reads of a branch-filtered page (list.go).
	rounds, batch int
}

var _ ci.Store = (*Store)(nil)

// New returns a store on table, which must exist with the layout CreateTable
// makes (or template.yaml declares).
func New(client *dynamodb.Client, table string) *Store {
	return &Store{db: client, table: table, now: time.Now, rounds: filterRounds, batch: filterBatch}
}

// check fails fast on a cancelled context, before any request is signed.
func check(ctx context.Context) error { return context.Cause(ctx) }
