package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// Attribute names of the table (docs/store.md has the whole layout).
const (
	attrPK         = "pk"     // table partition key
	attrSK         = "sk"     // table sort key
	attrSortKey    = "gsisk"  // sort key of every GSI: store.SortKey, "<created>#<id>"
	attrRepo       = "gsi1pk" // by-repo: "REPO#<repo>"
	attrStatus     = "gsi2pk" // by-status: "STATUS#<status>"
	attrAll        = "gsi3pk" // by-created: "JOBS"
	attrRepoStatus = "gsi4pk" // by-repo-status: "REPO#<repo>#STATUS#<status>"
	attrUnpub      = "unpub"  // unpublished (sparse): "UNPUB" while queued and not published
	attrBranch     = "branch" // for the branch FilterExpression
	attrVersion    = "version"
	attrDoc        = "doc" // JSON of the whole ci.Job or ci.Runner
	attrTTL        = "ttl" // runners: ExpiresAt in epoch seconds (DynamoDB TTL)
)

// Key values.
const (
	jobPrefix    = "JOB#"
	jobSK        = "JOB"
	runnerPK     = "RUNNER"
	allJobsPK    = "JOBS"
	unpubPK      = "UNPUB"
	repoPrefix   = "REPO#"
	statusPrefix = "STATUS#"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func jobKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: s(jobPrefix + id), attrSK: s(jobSK)}
}

func runnerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: s(runnerPK), attrSK: s(id)}
}

func repoKey(repo string) string { return repoPrefix + repo }

func statusKey(st ci.Status) string { return statusPrefix + string(st) }

func repoStatusKey(repo string, st ci.Status) string { return repoKey(repo) + "#" + statusKey(st) }

// jobItem is the item of j: its key, the keys of every index it belongs to,
// the attributes conditions and filters use, and the JSON of the whole job.
func jobItem(j ci.Job) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	item := jobKey(j.ID)
	item[attrSortKey] = s(store.SortKey(j.CreatedAt, j.ID))
	item[attrRepo] = s(repoKey(j.Repo))
	item[attrStatus] = s(statusKey(j.Status))
	item[attrAll] = s(allJobsPK)
	item[attrRepoStatus] = s(repoStatusKey(j.Repo, j.Status))
	if store.Unpublished(j) {
		item[attrUnpub] = s(unpubPK)
	}
	item[attrBranch] = s(j.Branch)
	item[attrVersion] = n(j.Version)
	item[attrDoc] = s(string(doc))
	return item, nil
}

// runnerItem is the item of r; ttl is present only when r expires.
func runnerItem(r ci.Runner) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode runner %s: %w", r.ID, err)
	}
	item := runnerKey(r.ID)
	item[attrDoc] = s(string(doc))
	if !r.ExpiresAt.IsZero() {
		item[attrTTL] = n(r.ExpiresAt.Unix())
	}
	return item, nil
}

// decodeDoc unmarshals the doc attribute of item into v.
func decodeDoc(item map[string]types.AttributeValue, v any) error {
	doc, ok := item[attrDoc].(*types.AttributeValueMemberS)
	if !ok {
		return errors.New("decode item: no doc attribute")
	}
	if err := json.Unmarshal([]byte(doc.Value), v); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

func decodeJob(item map[string]types.AttributeValue) (ci.Job, error) {
	var j ci.Job
	err := decodeDoc(item, &j)
	return j, err
}

func decodeRunner(item map[string]types.AttributeValue) (ci.Runner, error) {
	var r ci.Runner
	err := decodeDoc(item, &r)
	return r, err
}
