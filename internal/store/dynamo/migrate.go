package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Migrate rewrites every job item still in the first layout (index keys
// gsi1pk…gsi4pk, gsisk, unpub beside doc) in the current one, so that it
// joins the current indexes, and returns how many it rewrote.
//
// Reads need no migration: GetJob, UpdateJob and CreateJob's duplicate check
// take either layout, and UpdateJob writes the current one. What an old item
// misses until it is rewritten is the listings (ListJobs, ListUnpublished),
// which query the current indexes. Migrate is idempotent and safe beside
// running writers: each rewrite is conditional on the item's version and on
// its still being in the old layout, so a concurrent update wins and the
// item is skipped. It scans the whole table (paged), honouring ctx.
func (st *Store) Migrate(ctx context.Context) (int, error) {
	in := &dynamodb.ScanInput{
		TableName:                 &st.table,
		FilterExpression:          aws.String("begins_with(#pk, :job) AND attribute_exists(#old) AND attribute_not_exists(#new)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#old": attrOldSortKey, "#new": attrCreatedID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":job": s(jobPrefix)},
	}
	migrated := 0
	for p := dynamodb.NewScanPaginator(st.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return migrated, fmt.Errorf("migrate: scan %s: %w", st.table, err)
		}
		for _, item := range page.Items {
			done, err := st.rewrite(ctx, item)
			if err != nil {
				return migrated, err
			}
			if done {
				migrated++
			}
		}
	}
	return migrated, nil
}

// rewrite puts the current layout of an old item in its place unless the
// item changed since it was read; it reports whether it wrote.
func (st *Store) rewrite(ctx context.Context, old map[string]types.AttributeValue) (bool, error) {
	if !oldLayout(old) {
		return false, nil
	}
	j, err := decodeJob(old)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	item, err := jobItem(j)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &st.table,
		Item:                      item,
		ConditionExpression:       aws.String("#v = :v AND attribute_not_exists(#new)"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion, "#new": attrCreatedID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(j.Version)},
	})
	if errors.As(err, new(*types.ConditionalCheckFailedException)) {
		return false, nil // updated meanwhile: already in the current layout
	}
	if err != nil {
		return false, fmt.Errorf("migrate job %s: %w", j.ID, err)
	}
	return true, nil
}
