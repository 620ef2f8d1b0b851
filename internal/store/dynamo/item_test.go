package dynamo

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

func str(t *testing.T, item map[string]types.AttributeValue, attr string) (string, bool) {
	t.Helper()
	v, ok := item[attr]
	if !ok {
		return "", false
	}
	sv, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("attribute %s is %T, want S", attr, v)
	}
	return sv.Value, true
}

func TestJobItem(t *testing.T) {
	created := time.Date(2031, 3, 4, 5, 6, 7, 80, time.UTC)
	j := ci.Job{ID: "abc", Repo: "octo/hello", SHA: "0123abcd", Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 2, CreatedAt: created, FinishedAt: created.Add(time.Second),
		RunnerID: "r1", Version: 3, Deliveries: []string{"d1"}, Steps: []ci.Step{{Name: "build", ExitCode: 1}}}
	item, err := jobItem(j)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pk": "JOB#abc", "sk": "JOB", "created_id": "2031-03-04T05:06:07.000000080Z#abc",
		"repo": "octo/hello", "sha": "0123abcd", "ref": "refs/heads/main", "branch": "main", "event": "push",
		"status": "queued", "runner": "r1", "created_at": "2031-03-04T05:06:07.000000080Z",
		"finished_at": "2031-03-04T05:06:08.000000080Z", "kind": "job", "repo_status": "octo/hello#queued",
		"unpublished": "queued",
	}
	for attr, w := range want {
		if got, _ := str(t, item, attr); got != w {
			t.Errorf("%s = %q, want %q", attr, got, w)
		}
	}
	for attr, w := range map[string]string{"version": "3", "attempt": "2"} {
		if v, ok := item[attr].(*types.AttributeValueMemberN); !ok || v.Value != w {
			t.Errorf("%s = %#v, want N %s", attr, item[attr], w)
		}
	}
	if len(item) != len(want)+3 { // + version, attempt, doc
		t.Errorf("item has %d attributes, want %d: %v", len(item), len(want)+3, item)
	}
	back, err := decodeJob(item)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, j) {
		t.Errorf("decodeJob(jobItem(j)) = %+v, want %+v", back, j)
	}
}

// TestJobItemUnpublished: the sparse index holds a job only while it is
// queued and unpublished.
func TestJobItemUnpublished(t *testing.T) {
	for _, c := range []struct {
		status    ci.Status
		published bool
		want      bool
	}{
		{ci.StatusQueued, false, true}, {ci.StatusQueued, true, false},
		{ci.StatusAssigned, false, false}, {ci.StatusSuccess, true, false},
	} {
		item, err := jobItem(ci.Job{ID: "x", Status: c.status, Published: c.published})
		if err != nil {
			t.Fatal(err)
		}
		if _, got := str(t, item, attrUnpub); got != c.want {
			t.Errorf("%s published=%v: unpub present = %v, want %v", c.status, c.published, got, c.want)
		}
	}
}

func TestRunnerItem(t *testing.T) {
	exp := time.Date(2031, 1, 1, 0, 0, 9, 900_000_000, time.UTC)
	r := ci.Runner{ID: "r1", Address: "h:1", Capacity: 2, ExpiresAt: exp, LastHeartbeat: exp.Add(-time.Hour)}
	item, err := runnerItem(r)
	if err != nil {
		t.Fatal(err)
	}
	if pk, _ := str(t, item, attrPK); pk != runnerPK {
		t.Errorf("pk = %q", pk)
	}
	if sk, _ := str(t, item, attrSK); sk != "r1" {
		t.Errorf("sk = %q", sk)
	}
	if v, ok := item[attrTTL].(*types.AttributeValueMemberN); !ok || v.Value != "1924992009" {
		t.Errorf("ttl = %#v, want N 1924992009", item[attrTTL])
	}
	back, err := decodeRunner(item)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("decodeRunner(runnerItem(r)) = %+v, %v", back, err)
	}
	r.ExpiresAt = time.Time{}
	if item, _ := runnerItem(r); item[attrTTL] != nil {
		t.Errorf("a runner that never expires has ttl %#v", item[attrTTL])
	}
	if _, err := decodeRunner(runnerKey("r1")); err == nil {
		t.Error("decodeRunner of an item without doc succeeded")
	}
}

func TestIndexFor(t *testing.T) {
	for _, c := range []struct {
		f                ci.JobFilter
		index, attr, key string
	}{
		{ci.JobFilter{}, "by-created", "kind", "job"},
		{ci.JobFilter{Branch: "main"}, "by-created", "kind", "job"},
		{ci.JobFilter{Repo: "a/b"}, "by-repo", "repo", "a/b"},
		{ci.JobFilter{Status: ci.StatusRunning}, "by-status", "status", "running"},
		{ci.JobFilter{Repo: "a/b", Status: ci.StatusRunning, Branch: "x"}, "by-repo-status", "repo_status", "a/b#running"},
	} {
		index, attr, key := indexFor(c.f)
		if index != c.index || attr != c.attr || key != c.key {
			t.Errorf("indexFor(%+v) = %s %s %s, want %s %s %s", c.f, index, attr, key, c.index, c.attr, c.key)
		}
	}
}

// TestListQueryCursor: the start key is rebuilt from the cursor's position for
// the index the filter picks.
func TestListQueryCursor(t *testing.T) {
	created := time.Date(2031, 3, 4, 5, 6, 7, 8, time.UTC)
	f := ci.JobFilter{Status: ci.StatusQueued, Branch: "dev", Cursor: store.EncodeCursor(store.SortKey(created, "job-9"))}
	in, err := listQuery("t", f, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		attrPK: "JOB#job-9", attrSK: "JOB", attrStatus: "queued",
		attrCreatedID: "2031-03-04T05:06:07.000000008Z#job-9",
	}
	if len(in.ExclusiveStartKey) != len(want) {
		t.Errorf("start key %v, want %v", in.ExclusiveStartKey, want)
	}
	for attr, w := range want {
		if got, _ := str(t, in.ExclusiveStartKey, attr); got != w {
			t.Errorf("start key %s = %q, want %q", attr, got, w)
		}
	}
	if aws.ToBool(in.ScanIndexForward) || aws.ToInt32(in.Limit) != 100 || aws.ToString(in.FilterExpression) == "" {
		t.Errorf("query: forward %v limit %d filter %q", aws.ToBool(in.ScanIndexForward), aws.ToInt32(in.Limit), aws.ToString(in.FilterExpression))
	}
	if got := keyCursor(in.ExclusiveStartKey); got != f.Cursor {
		t.Errorf("keyCursor of the start key = %q, want the cursor %q", got, f.Cursor)
	}
	if _, err := listQuery("t", ci.JobFilter{Cursor: "%%%"}, 10, 100); err == nil {
		t.Error("listQuery accepted a bad cursor")
	}
}

// TestTableInput: every key attribute is defined and every defined attribute
// is a key (CreateTable refuses either mistake).
func TestTableInput(t *testing.T) {
	in := tableInput("t")
	defined := map[string]bool{}
	for _, d := range in.AttributeDefinitions {
		defined[aws.ToString(d.AttributeName)] = true
	}
	used := map[string]bool{}
	schemas := [][]types.KeySchemaElement{in.KeySchema}
	for _, g := range in.GlobalSecondaryIndexes {
		schemas = append(schemas, g.KeySchema)
		if g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
			t.Errorf("index %s does not project ALL", aws.ToString(g.IndexName))
		}
	}
	for _, ks := range schemas {
		for _, k := range ks {
			used[aws.ToString(k.AttributeName)] = true
		}
	}
	if !reflect.DeepEqual(defined, used) {
		t.Errorf("defined attributes %v, key attributes %v", defined, used)
	}
	if len(in.GlobalSecondaryIndexes) != 6 {
		t.Errorf("%d GSIs, want 6", len(in.GlobalSecondaryIndexes))
	}
}

// TestJobItemEmptyFields: empty strings are left out (DynamoDB refuses them
// as index keys), so a job without repository or commit is in no index of
// repositories or commits.
func TestJobItemEmptyFields(t *testing.T) {
	item, err := jobItem(ci.Job{ID: "x", Status: ci.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{attrRepo, attrSHA, attrRef, attrBranch, attrEvent, attrRunner, attrFinishedAt, attrRepoStatus, attrUnpub} {
		if v, ok := item[attr]; ok {
			t.Errorf("%s = %#v, want absent", attr, v)
		}
	}
	if got, _ := str(t, item, attrStatus); got != "running" {
		t.Errorf("status = %q", got)
	}
}
