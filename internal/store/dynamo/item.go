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

// Attribute names of the table (docs/store.md has the whole layout). A job
// item carries its main fields under their own names, so that the DynamoDB
// console shows them as columns and its Query form takes them as keys.
const (
	attrPK         = "pk"          // table partition key: "JOB#<id>", or "RUNNER"
	attrSK         = "sk"          // table sort key: "JOB", or the runner ID
	attrRepo       = "repo"        // owner/name; key of by-repo and by-sha
	attrSHA        = "sha"         // the commit; sort key of by-sha
	attrRef        = "ref"         // refs/heads/main, refs/pull/7/head
	attrBranch     = "branch"      // also the branch FilterExpression
	attrEvent      = "event"       // push, pull_request, manual
	attrStatus     = "status"      // key of by-status
	attrRunner     = "runner"      // the runner ID, once assigned
	attrCreatedAt  = "created_at"  // time key (store.TimeKey) of CreatedAt
	attrFinishedAt = "finished_at" // time key of FinishedAt, once finished
	attrAttempt    = "attempt"     // N
	attrCreatedID  = "created_id"  // sort key of the listing indexes: store.SortKey, "<created_at>#<id>"
	attrKind       = "kind"        // "job": key of by-created (every job in one partition)
	attrRepoStatus = "repo_status" // "<repo>#<status>": key of by-repo-status
	attrUnpub      = "unpublished" // sparse: "queued" while queued and not published; key of unpublished
	attrVersion    = "version"     // N, the compare-and-swap counter
	attrDoc        = "doc"         // JSON of the whole ci.Job or ci.Runner
	attrTTL        = "ttl"         // runners: ExpiresAt in epoch seconds (DynamoDB TTL)
	attrNumber     = "number"      // the job's build number; also the FilterExpression of REPO#N
	attrLast       = "last"        // the counter item of earlier versions: the last build number it gave
	attrClaimJob   = "job_id"      // a build number's claim: the job it numbers
	attrOldSortKey = "gsisk"       // the first layout's sort key: marks an item not yet migrated
)

// Key values.
const (
	jobPrefix = "JOB#"
	jobSK     = "JOB"
	runnerPK  = "RUNNER"
	jobKind   = "job"
	// A repository's build numbers: one claim item per number, pk
	// "REPO#<repo>", sk "NUM#" + the number in 10 digits (so that the sort
	// keys sort as the numbers); earlier versions kept a counter item, sk
	// "NUMBER", which sorts after every claim.
	repoPrefix   = "REPO#"
	claimPrefix  = "NUM#"
	numberSK     = "NUMBER"
	numberPrefix = "NUM" // what claimPrefix and numberSK begin with
)

func claimKey(repo string, number int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: s(repoPrefix + repo), attrSK: s(fmt.Sprintf("%s%010d", claimPrefix, number))}
}

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

func repoStatusKey(repo string, st ci.Status) string { return repo + "#" + string(st) }

// jobItem is the item of j: its key, its main fields as attributes (the keys
// of the indexes among them), and the JSON of the whole job. Empty strings
// are left out: DynamoDB refuses them as index keys, and a job without a
// repository is simply in no repository's index.
func jobItem(j ci.Job) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	item := jobKey(j.ID)
	put := func(attr, v string) {
		if v != "" {
			item[attr] = s(v)
		}
	}
	put(attrRepo, j.Repo)
	put(attrSHA, j.SHA)
	put(attrRef, j.Ref)
	put(attrBranch, j.Branch)
	put(attrEvent, string(j.Event))
	put(attrStatus, string(j.Status))
	put(attrRunner, j.RunnerID)
	put(attrCreatedAt, store.TimeKey(j.CreatedAt))
	if !j.FinishedAt.IsZero() {
		put(attrFinishedAt, store.TimeKey(j.FinishedAt))
	}
	item[attrAttempt] = n(int64(j.Attempt))
	if j.Number > 0 {
		item[attrNumber] = n(int64(j.Number))
	}
	put(attrCreatedID, store.SortKey(j.CreatedAt, j.ID))
	put(attrKind, jobKind)
	if j.Repo != "" {
		put(attrRepoStatus, repoStatusKey(j.Repo, j.Status))
	}
	if store.Unpublished(j) {
		put(attrUnpub, string(ci.StatusQueued))
	}
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

// decodeJob reads a job item of either layout: both hold the whole job in
// doc (the first layout had only index keys beside it, the current one the
// main fields too), so the document is the record for both.
func decodeJob(item map[string]types.AttributeValue) (ci.Job, error) {
	var j ci.Job
	err := decodeDoc(item, &j)
	return j, err
}

// oldLayout reports whether item was written in the first layout
// (gsi1pk…gsi4pk, gsisk, unpub): such an item is in none of the current
// indexes until Migrate or an update rewrites it.
func oldLayout(item map[string]types.AttributeValue) bool {
	_, old := item[attrOldSortKey]
	_, current := item[attrCreatedID]
	return old && !current
}

func decodeRunner(item map[string]types.AttributeValue) (ci.Runner, error) {
	var r ci.Runner
	err := decodeDoc(item, &r)
	return r, err
}
