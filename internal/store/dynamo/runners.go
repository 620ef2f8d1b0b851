package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// PutRunner writes the runner's item, replacing any; see ci.Store.
func (st *Store) PutRunner(ctx context.Context, r ci.Runner) error {
	if err := check(ctx); err != nil {
		return err
	}
	r, err := store.PrepareRunner(r)
	if err != nil {
		return err
	}
	item, err := runnerItem(r)
	if err != nil {
		return err
	}
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: item}); err != nil {
		return fmt.Errorf("put runner %s: %w", r.ID, err)
	}
	return nil
}

// GetRunner reads the runner, strongly consistent; a runner past its
// ExpiresAt is not found even while TTL has not deleted it yet.
func (st *Store) GetRunner(ctx context.Context, id string) (ci.Runner, error) {
	if err := check(ctx); err != nil {
		return ci.Runner{}, err
	}
	item, err := st.getItem(ctx, runnerKey(id))
	if err != nil {
		return ci.Runner{}, fmt.Errorf("get runner %s: %w", id, err)
	}
	r, err := decodeRunner(item)
	if err != nil {
		return ci.Runner{}, fmt.Errorf("get runner %s: %w", id, err)
	}
	if store.RunnerExpired(r, st.now()) {
		return ci.Runner{}, fmt.Errorf("get runner %s: expired: %w", id, ci.ErrNotFound)
	}
	return r, nil
}

// ListRunners queries the runners' partition (sorted by ID, strongly
// consistent) and leaves out expired runners.
func (st *Store) ListRunners(ctx context.Context) ([]ci.Runner, error) {
	if err := check(ctx); err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(runnerPK)},
		ConsistentRead:            aws.Bool(true),
	}
	var out []ci.Runner
	now := st.now()
	for p := dynamodb.NewQueryPaginator(st.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list runners: %w", err)
		}
		for _, item := range page.Items {
			r, err := decodeRunner(item)
			if err != nil {
				return nil, fmt.Errorf("list runners: %w", err)
			}
			if !store.RunnerExpired(r, now) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// DeleteRunner deletes the runner's item; deleting an unknown ID is not an error.
func (st *Store) DeleteRunner(ctx context.Context, id string) error {
	if err := check(ctx); err != nil {
		return err
	}
	if _, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: runnerKey(id)}); err != nil {
		return fmt.Errorf("delete runner %s: %w", id, err)
	}
	return nil
}
