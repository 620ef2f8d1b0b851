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
// redeliveries leave no gap; only two creates of one ID racing can, or a
// create that dies between its claim and its job.
//
// A number is taken by claiming it: one small item per number (claimKey),
// put only when absent, holding the job it numbers. The SDK's retry of a
// claim whose answer was lost finds its own job there and stands, whatever
// other creates claimed meanwhile; a counter raised with ADD could not tell
// its own raise from another's once one came between, and a retried raise
// took a second number (a gap, seen under load on moto). A create that finds
// the number claimed by another job tries the next (every number below it
// is claimed, so none is skipped), reading the last again every few tries
// to catch up with a burst.
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
	next := 0
	for try := range maxClaims {
		if try%rereadEvery == 0 {
			last, err := st.lastNumber(ctx, j.Repo)
			if err != nil {
				return 0, fmt.Errorf("build number of %s: %w", j.Repo, err)
			}
			next = max(next, last+1)
		}
		mine, err := st.claim(ctx, j, next)
		switch {
		case err != nil:
			return 0, fmt.Errorf("build number of %s: %w", j.Repo, err)
		case mine:
			return next, nil
		}
		next++
	}
	return 0, fmt.Errorf("build number of %s: claimed by other jobs %d times in a row", j.Repo, maxClaims)
}

// maxClaims bounds the claims of one create, each lost to another create of
// the same repository (beyond it the create fails, to be delivered again);
// it reads the last number again every rereadEvery of them.
const (
	maxClaims   = 64
	rereadEvery = 8
)

// lastNumber is the last build number repo gave: its highest claim, or the
// counter item of earlier versions when that is higher (read strongly
// consistent: "NUMBER" sorts after every "NUM#", so two items say both).
func (st *Store) lastNumber(ctx context.Context, repo string) (int, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &st.table,
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :num)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#last": attrLast,
			"#number": attrNumber},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(repoPrefix + repo), ":num": s(numberPrefix)},
		ProjectionExpression:      aws.String("#last, #number"),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(2),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	last := 0
	for _, item := range out.Items {
		for _, attr := range []string{attrLast, attrNumber} {
			if v, ok := item[attr].(*types.AttributeValueMemberN); ok {
				n, err := strconv.Atoi(v.Value)
				if err != nil {
					return 0, fmt.Errorf("%s %q: %w", attr, v.Value, err)
				}
				last = max(last, n)
			}
		}
	}
	return last, nil
}

// claim puts the claim of number for j when it is free. mine is true when
// the claim is j's: put now, or by a first try of this put whose answer was
// lost.
func (st *Store) claim(ctx context.Context, j ci.Job, number int) (mine bool, err error) {
	item := claimKey(j.Repo, number)
	item[attrNumber], item[attrClaimJob] = n(int64(number)), s(j.ID)
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &st.table,
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		owner, _ := failed.Item[attrClaimJob].(*types.AttributeValueMemberS)
		return owner != nil && owner.Value == j.ID, nil
	}
	return err == nil, err
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
