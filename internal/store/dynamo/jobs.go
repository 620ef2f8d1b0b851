package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// CreateJob stores j when its ID is free (attribute_not_exists); see ci.Store.
func (st *Store) CreateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	if err := check(ctx); err != nil {
		return ci.Job{}, err
	}
	j, err := store.PrepareCreate(j, st.now())
	if err != nil {
		return ci.Job{}, err
	}
	if j.Number, err = st.number(ctx, j); err != nil {
		return ci.Job{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	item, err := jobItem(j)
	if err != nil {
		return ci.Job{}, err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &st.table,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		// The SDK retries a request whose answer was lost; the retry then
		// finds the item its first try wrote. ALL_OLD lets us tell that
		// (the same document) from a real duplicate.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	err = sizeError(err)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		err = ci.ErrExists
		if sameDoc(failed.Item, item) {
			err = nil
		}
	}
	if err != nil {
		return ci.Job{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return j, nil
}

// number takes the build number of new job j: a job that exists already is
// ErrExists before one is taken (a strongly consistent read of its key), so
// redeliveries leave no gap; only two creates of one ID racing can. The
// counter is one item per repository, raised with an atomic ADD that also
// records the job it numbered: the SDK's retry of a raise whose answer was
// lost then fails its condition and reads the number the first try gave,
// instead of taking a second one.
func (st *Store) number(ctx context.Context, j ci.Job) (int, error) {
	got, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: jobKey(j.ID),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#pk"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK}})
	switch {
	case err != nil:
		return 0, err
	case len(got.Item) > 0:
		return 0, ci.ErrExists
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &st.table,
		Key:                                 map[string]types.AttributeValue{attrPK: s(repoPrefix + j.Repo), attrSK: s(numberSK)},
		UpdateExpression:                    aws.String("ADD #last :one SET #job = :job"),
		ConditionExpression:                 aws.String("attribute_not_exists(#job) OR #job <> :job"),
		ExpressionAttributeNames:            map[string]string{"#last": attrLast, "#job": attrLastJob},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":one": n(1), ":job": s(j.ID)},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	attrs := map[string]types.AttributeValue(nil)
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		attrs = failed.Item // this job's own raise, retried: its number stands
	case err != nil:
		return 0, fmt.Errorf("build number of %s: %w", j.Repo, err)
	default:
		attrs = out.Attributes
	}
	v, ok := attrs[attrLast].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("build number of %s: counter without a number", j.Repo)
	}
	return strconv.Atoi(v.Value)
}

// GetJob reads the job with that ID, strongly consistent; see ci.Store.
func (st *Store) GetJob(ctx context.Context, id string) (ci.Job, error) {
	if err := check(ctx); err != nil {
		return ci.Job{}, err
	}
	item, err := st.getItem(ctx, jobKey(id))
	if err != nil {
		return ci.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return decodeJob(item)
}

// getItem reads one item, strongly consistent; a missing one is ErrNotFound.
func (st *Store) getItem(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, ci.ErrNotFound
	}
	return out.Item, nil
}

// UpdateJob replaces the job when its stored version is j.Version; see ci.Store.
func (st *Store) UpdateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	if err := check(ctx); err != nil {
		return ci.Job{}, err
	}
	next, err := store.PrepareUpdate(j, st.now())
	if err != nil {
		return ci.Job{}, err
	}
	item, err := jobItem(next)
	if err != nil {
		return ci.Job{}, err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &st.table,
		Item:                                item,
		ConditionExpression:                 aws.String("#v = :v"),
		ExpressionAttributeNames:            map[string]string{"#v": attrVersion},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":v": n(j.Version)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	err = sizeError(err)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		err = st.missOrConflict(ctx, j.ID, item, failed)
	}
	if err != nil {
		return ci.Job{}, fmt.Errorf("update job %s: %w", j.ID, err)
	}
	return next, nil
}

// missOrConflict tells why the version condition failed: the old item comes
// with the exception when the service returns it; otherwise a consistent read
// says whether the job exists (jobs are never deleted). An old item that is
// the one this update wrote is no conflict: the SDK retried a write whose
// answer it could not read (a dropped connection, a bad CRC32), and the
// retry found the first try's item, version and all.
func (st *Store) missOrConflict(ctx context.Context, id string, wrote map[string]types.AttributeValue, failed *types.ConditionalCheckFailedException) error {
	old := failed.Item
	if len(old) == 0 {
		var err error
		if old, err = st.getItem(ctx, jobKey(id)); err != nil {
			return err
		}
	}
	if sameDoc(old, wrote) {
		return nil
	}
	return ci.ErrConflict
}

// sameDoc reports whether two job items hold the same document.
func sameDoc(a, b map[string]types.AttributeValue) bool {
	da, ok1 := a[attrDoc].(*types.AttributeValueMemberS)
	db, ok2 := b[attrDoc].(*types.AttributeValueMemberS)
	return ok1 && ok2 && da.Value == db.Value
}
