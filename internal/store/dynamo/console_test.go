package dynamo

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestConsoleLookups runs the three look-ups of docs/store.md ("Looking jobs
// up in the console") as the Query requests the console and the
// `aws dynamodb query` commands there send: the jobs of a repository, the
// job of a commit, the jobs running now. Each is one Query on an index,
// keyed by plain values (no prefixes), and its items show the job's fields
// as attributes.
func TestConsoleLookups(t *testing.T) {
	testenv.AWSEndpoint(t)
	client := newClient(t)
	st := newTable(t, client)
	ctx := context.Background()
	base := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, j := range []ci.Job{
		{ID: "j1", Repo: "octo/hello", SHA: "1111aaaa", Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush, Status: ci.StatusSuccess},
		{ID: "j2", Repo: "octo/hello", SHA: "2222bbbb", Ref: "refs/heads/main", Branch: "main", Event: ci.EventPush, Status: ci.StatusRunning, RunnerID: "r1"},
		{ID: "j3", Repo: "octo/other", SHA: "3333cccc", Ref: "refs/heads/dev", Branch: "dev", Event: ci.EventPush, Status: ci.StatusRunning, RunnerID: "r2"},
	} {
		j.Attempt, j.CreatedAt = 1, base.Add(time.Duration(i)*time.Minute)
		if _, err := st.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	query := func(index, cond string, names map[string]string, values map[string]string) []map[string]types.AttributeValue {
		t.Helper()
		in := &dynamodb.QueryInput{TableName: &st.table, IndexName: aws.String(index), KeyConditionExpression: aws.String(cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{}, ScanIndexForward: aws.Bool(false)}
		if len(names) > 0 {
			in.ExpressionAttributeNames = names
		}
		for k, v := range values {
			in.ExpressionAttributeValues[k] = s(v)
		}
		out, err := client.Query(ctx, in)
		if err != nil {
			t.Fatalf("query %s: %v", index, err)
		}
		return out.Items
	}

	// aws dynamodb query --index-name by-repo --key-condition-expression 'repo = :repo' ...
	repoJobs := query("by-repo", "repo = :repo", nil, map[string]string{":repo": "octo/hello"})
	if got := attrs(t, repoJobs, "sha"); !slices.Equal(got, []string{"2222bbbb", "1111aaaa"}) {
		t.Errorf("jobs of octo/hello: %v, want the two, newest first", got)
	}
	// aws dynamodb query --index-name by-sha --key-condition-expression 'repo = :repo AND sha = :sha' ...
	commit := query("by-sha", "repo = :repo AND sha = :sha", nil, map[string]string{":repo": "octo/hello", ":sha": "1111aaaa"})
	if got := attrs(t, commit, "status"); !slices.Equal(got, []string{"success"}) {
		t.Errorf("job of commit 1111aaaa: %v, want one, success", got)
	}
	// A short SHA, as people paste them.
	short := query("by-sha", "repo = :repo AND begins_with(sha, :sha)", nil, map[string]string{":repo": "octo/hello", ":sha": "2222"})
	if got := attrs(t, short, "sha"); !slices.Equal(got, []string{"2222bbbb"}) {
		t.Errorf("job of commit 2222…: %v", got)
	}
	// aws dynamodb query --index-name by-status --key-condition-expression '#status = :status' ...
	running := query("by-status", "#status = :status", map[string]string{"#status": "status"}, map[string]string{":status": "running"})
	if got := attrs(t, running, "runner"); !slices.Equal(got, []string{"r2", "r1"}) {
		t.Errorf("runners of the running jobs: %v, want r2, r1", got)
	}
	for _, item := range running {
		for _, attr := range []string{"repo", "sha", "ref", "branch", "event", "status", "runner", "created_at", "attempt", "doc"} {
			if _, ok := item[attr]; !ok {
				t.Errorf("a running job lacks the attribute %s", attr)
			}
		}
	}
}

// attrs is the string (or number) attribute attr of each item.
func attrs(t *testing.T, items []map[string]types.AttributeValue, attr string) []string {
	t.Helper()
	var out []string
	for _, item := range items {
		switch v := item[attr].(type) {
		case *types.AttributeValueMemberS:
			out = append(out, v.Value)
		case *types.AttributeValueMemberN:
			out = append(out, v.Value)
		default:
			t.Fatalf("item without %s: %v", attr, item)
		}
	}
	return out
}
