package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// A branch or ID-prefix filter is applied after the index read, so a listing with one reads
// up to filterRounds queries of at least filterBatch jobs each to fill a page;
// what it could not fill is a short page whose cursor continues the search.
// (The defaults of Store.rounds and Store.batch; tests make them small.)
const (
	filterRounds = 10
	filterBatch  = 100
)

// indexFor picks the GSI that serves f and the value of its partition key.
func indexFor(f ci.JobFilter) (name, pkAttr, pkValue string) {
	switch {
	case f.Repo != "" && f.Status != "":
		return indexRepoStatus, attrRepoStatus, repoStatusKey(f.Repo, f.Status)
	case f.Repo != "":
		return indexRepo, attrRepo, f.Repo
	case f.Status != "":
		return indexStatus, attrStatus, string(f.Status)
	}
	return indexAll, attrKind, jobKind
}

// listQuery builds the first Query of f: newest first on its index, from
// the cursor's position, with the branch as a filter.
func listQuery(table string, f ci.JobFilter, limit, batch int) (*dynamodb.QueryInput, error) {
	index, pkAttr, pkValue := indexFor(f)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": pkAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pkValue)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cond := listFilter(in, f); cond != "" {
		in.FilterExpression = aws.String(cond)
		in.Limit = aws.Int32(int32(max(limit+1, batch)))
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		// The start key is rebuilt from the position, so a cursor stays valid
		// when its job has since left the index (its status changed).
		in.ExclusiveStartKey = jobKey(id)
		in.ExclusiveStartKey[pkAttr] = s(pkValue)
		in.ExclusiveStartKey[attrCreatedID] = s(ts + "#" + id)
	}
	return in, nil
}

// listFilter adds the names and values of f's branch, number and ID prefix filters
// to in and returns the FilterExpression that applies them ("" for none).
func listFilter(in *dynamodb.QueryInput, f ci.JobFilter) string {
	var conds []string
	if f.Branch != "" {
		conds = append(conds, "#branch = :branch")
		in.ExpressionAttributeNames["#branch"] = attrBranch
		in.ExpressionAttributeValues[":branch"] = s(f.Branch)
	}
	if f.Number > 0 {
		conds = append(conds, "#num = :num")
		in.ExpressionAttributeNames["#num"] = attrNumber
		in.ExpressionAttributeValues[":num"] = n(int64(f.Number))
	}
	if f.IDPrefix != "" {
		conds = append(conds, "begins_with(#id, :id)")
		in.ExpressionAttributeNames["#id"] = attrPK
		in.ExpressionAttributeValues[":id"] = s(jobPrefix + f.IDPrefix)
	}
	return strings.Join(conds, " AND ")
}

// ListJobs returns one page of jobs, newest first; see ci.Store. GSI reads
// are eventually consistent: a job written a moment ago may be missing, or
// still listed under its previous status.
func (st *Store) ListJobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error) {
	if err := check(ctx); err != nil {
		return ci.JobPage{}, err
	}
	limit := store.Limit(f.Limit)
	in, err := listQuery(st.table, f, limit, st.batch)
	if err != nil {
		return ci.JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	var jobs []ci.Job
	for range st.rounds {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return ci.JobPage{}, fmt.Errorf("list jobs: %w", err)
		}
		for _, item := range out.Items {
			j, err := decodeJob(item)
			if err != nil {
				return ci.JobPage{}, fmt.Errorf("list jobs: %w", err)
			}
			if jobs = append(jobs, j); len(jobs) > limit { // one more than a page: there is a next
				last := jobs[limit-1]
				return ci.JobPage{Jobs: jobs[:limit], Cursor: store.EncodeCursor(store.SortKey(last.CreatedAt, last.ID))}, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return ci.JobPage{Jobs: jobs}, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return ci.JobPage{Jobs: jobs, Cursor: keyCursor(in.ExclusiveStartKey)}, nil
}

// keyCursor is the cursor of a LastEvaluatedKey: its position in the index.
func keyCursor(key map[string]types.AttributeValue) string {
	if v, ok := key[attrCreatedID].(*types.AttributeValueMemberS); ok {
		return store.EncodeCursor(v.Value)
	}
	return ""
}

// ListUnpublished queries the sparse unpublished index, oldest first; see
// ci.Store. Like every GSI read it is eventually consistent, which the
// sweeper tolerates: it only looks at jobs older than a grace period.
func (st *Store) ListUnpublished(ctx context.Context, before time.Time, limit int) ([]ci.Job, error) {
	if err := check(ctx); err != nil {
		return nil, err
	}
	limit = store.Limit(limit)
	in := &dynamodb.QueryInput{
		TableName:                &st.table,
		IndexName:                aws.String(indexUnpublished),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk < :before"),
		ExpressionAttributeNames: map[string]string{"#pk": attrUnpub, "#sk": attrCreatedID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(string(ci.StatusQueued)), ":before": s(store.TimeKey(before)),
		},
		ScanIndexForward: aws.Bool(true),
	}
	var jobs []ci.Job
	for len(jobs) < limit {
		in.Limit = aws.Int32(int32(limit - len(jobs)))
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list unpublished jobs: %w", err)
		}
		for _, item := range out.Items {
			j, err := decodeJob(item)
			if err != nil {
				return nil, fmt.Errorf("list unpublished jobs: %w", err)
			}
			jobs = append(jobs, j)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return jobs, nil
}
