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
	j := ci.Job{ID: "abc", Repo: "octo/hello", Branch: "main", Status: ci.StatusQueued, CreatedAt: created,
		Version: 3, Deliveries: []string{"d1"}, Steps: []ci.Step{{Name: "build", ExitCode: 1}}}
	item, err := jobItem(j)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		attrPK: "JOB#abc", attrSK: "JOB", attrSortKey: "2031-03-04T05:06:07.000000080Z#abc",
		attrRepo: "REPO#octo/hello", attrStatus: "STATUS#queued", attrAll: "JOBS",
		attrRepoStatus: "REPO#octo/hello#STATUS#queued", attrUnpub: "UNPUB", attrBranch: "main",
	}
	for attr, w := range want {
		if got, _ := str(t, item, attr); got != w {
			t.Errorf("%s = %q, want %q", attr, got, w)
		}
	}
	if v, ok := item[attrVersion].(*types.AttributeValueMemberN); !ok || v.Value != "3" {
		t.Errorf("version = %#v, want N 3", item[attrVersion])
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
		{ci.JobFilter{}, indexAll, attrAll, "JOBS"},
		{ci.JobFilter{Branch: "main"}, indexAll, attrAll, "JOBS"},
		{ci.JobFilter{Repo: "a/b"}, indexRepo, attrRepo, "REPO#a/b"},
		{ci.JobFilter{Status: ci.StatusRunning}, indexStatus, attrStatus, "STATUS#running"},
		{ci.JobFilter{Repo: "a/b", Status: ci.StatusRunning, Branch: "x"}, indexRepoStatus, attrRepoStatus, "REPO#a/b#STATUS#running"},
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
		attrPK: "JOB#job-9", attrSK: "JOB", attrStatus: "STATUS#queued",
		attrSortKey: "2031-03-04T05:06:07.000000008Z#job-9",
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
	if len(in.GlobalSecondaryIndexes) != 5 {
		t.Errorf("%d GSIs, want 5", len(in.GlobalSecondaryIndexes))
	}
}
