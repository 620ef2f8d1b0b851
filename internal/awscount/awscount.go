// Package awscount counts the AWS calls a process makes, per service and
// operation, with the DynamoDB capacity units each consumes: an
// aws-sdk-go-v2 middleware that every client built from one aws.Config
// shares (cfg.APIOptions = append(cfg.APIOptions, c.Register)). The Lambda
// functions log a Tally per invocation; the cost benchmark sums them
// (docs/cost.md).
//
// Capacity is computed from the items, not asked of the service (moto
// answers a fixed 1.0 or 0.5 whatever the item): a write costs one unit
// per started KB of the item in the table and again in every index it has
// the keys of (Counter.Indexes); a read one unit per started 4 KB, half when
// eventually consistent. A put that moves an item from one index
// partition to another also deletes it there, which the count leaves out,
// so write units are a lower bound. A call is counted once, at the start:
// the SDK's retries are not.
package awscount

import (
	"context"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Tally is what a Counter saw: calls by "Service.Operation" (the SDK's
// service ID: "DynamoDB.PutItem", "S3.GetObject",
// "Secrets Manager.GetSecretValue") and DynamoDB's read and write units.
type Tally struct {
	Calls      map[string]int `json:"calls,omitempty"`
	ReadUnits  float64        `json:"read_units,omitempty"`
	WriteUnits float64        `json:"write_units,omitempty"`
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	if t.Calls == nil {
		t.Calls = map[string]int{}
	}
	for k, n := range o.Calls {
		t.Calls[k] += n
	}
	t.ReadUnits += o.ReadUnits
	t.WriteUnits += o.WriteUnits
}

// Service is the number of calls to one service.
func (t Tally) Service(service string) int {
	n := 0
	for k, c := range t.Calls {
		if len(k) > len(service) && k[:len(service)] == service && k[len(service)] == '.' {
			n += c
		}
	}
	return n
}

// Counter counts calls; it is safe for concurrent use.
type Counter struct {
	// Indexes are the key attributes of each secondary index (every
	// attribute projected): an item holding all of one's is written there
	// too.
	Indexes [][]string

	mu sync.Mutex
	t  Tally
}

// Register adds the counter to a client's middleware stack; pass it in
// aws.Config.APIOptions.
func (c *Counter) Register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("narwhal.awscount", c.handle), middleware.After)
}

func (c *Counter) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleInitialize(ctx, in)
	op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
	r, w := capacity(in.Parameters, out.Result, c.Indexes)
	c.mu.Lock()
	if c.t.Calls == nil {
		c.t.Calls = map[string]int{}
	}
	c.t.Calls[op]++
	c.t.ReadUnits += r
	c.t.WriteUnits += w
	c.mu.Unlock()
	return out, md, err
}

// Take returns what was counted since the last Take and starts again.
func (c *Counter) Take() Tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = Tally{}
	return t
}

// Snapshot returns what was counted so far.
func (c *Counter) Snapshot() Tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	t.Calls = maps.Clone(t.Calls)
	return t
}
