package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// oldItem is j as the first layout wrote it, attribute for attribute.
func oldItem(t *testing.T, j ci.Job) map[string]types.AttributeValue {
	t.Helper()
	doc, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{
		"pk": s("JOB#" + j.ID), "sk": s("JOB"), "gsisk": s(store.SortKey(j.CreatedAt, j.ID)),
		"gsi1pk": s("REPO#" + j.Repo), "gsi2pk": s("STATUS#" + string(j.Status)), "gsi3pk": s("JOBS"),
		"gsi4pk": s("REPO#" + j.Repo + "#STATUS#" + string(j.Status)),
		"branch": s(j.Branch), "version": n(j.Version), "doc": s(string(doc)),
	}
	if store.Unpublished(j) {
		item["unpub"] = s("UNPUB")
	}
	return item
}

// TestOldLayoutItems writes items of the first layout raw and shows that
// they keep working: they read, a duplicate create is refused, an update
// rewrites one in the current layout, and Migrate moves the rest into the
// current indexes (listings and the unpublished sweep), once.
func TestOldLayoutItems(t *testing.T) {
	testenv.AWSEndpoint(t)
	client := newClient(t)
	st := newTable(t, client)
	ctx := context.Background()
	created := time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)
	a := ci.Job{ID: "old-a", Repo: "octo/old", SHA: "aaaa1111", Branch: "main", Event: ci.EventPush,
		Status: ci.StatusQueued, Attempt: 1, CreatedAt: created, UpdatedAt: created, Version: 1}
	b := a
	b.ID, b.SHA, b.CreatedAt, b.UpdatedAt = "old-b", "bbbb2222", created.Add(time.Second), created.Add(time.Second)
	for _, j := range []ci.Job{a, b} {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: oldItem(t, j)}); err != nil {
			t.Fatal(err)
		}
	}

	got, err := st.GetJob(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("GetJob of an old item = %+v, %v; want %+v", got, err, a)
	}
	if _, err := st.CreateJob(ctx, ci.Job{ID: b.ID, Status: ci.StatusQueued}); !errors.Is(err, ci.ErrExists) {
		t.Fatalf("CreateJob over an old item: %v, want ErrExists", err)
	}
	got.Status, got.RunnerID = ci.StatusAssigned, "r1"
	if _, err := st.UpdateJob(ctx, got); err != nil {
		t.Fatalf("UpdateJob of an old item: %v", err)
	}
	checkCurrentLayout(t, st, a.ID)
	if ids := storetest.ListIDs(t, st, ci.JobFilter{Repo: a.Repo}); !slices.Equal(ids, []string{a.ID}) {
		t.Fatalf("before Migrate the repo lists %v, want only the updated %s", ids, a.ID)
	}

	if n, err := st.Migrate(ctx); err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want 1 (old-b)", n, err)
	}
	checkCurrentLayout(t, st, b.ID)
	if ids := storetest.ListIDs(t, st, ci.JobFilter{Repo: a.Repo}); !slices.Equal(ids, []string{b.ID, a.ID}) {
		t.Errorf("after Migrate the repo lists %v, want [old-b old-a]", ids)
	}
	unpub, err := st.ListUnpublished(ctx, created.Add(time.Hour), 10)
	if err != nil || len(unpub) != 1 || !reflect.DeepEqual(unpub[0], b) {
		t.Errorf("ListUnpublished after Migrate = %+v, %v; want old-b as it was", unpub, err)
	}
	if n, err := st.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("second Migrate = %d, %v; want 0", n, err)
	}
}

// checkCurrentLayout reads the raw item of id: the current attributes are
// there and the first layout's are gone.
func checkCurrentLayout(t *testing.T, st *Store, id string) {
	t.Helper()
	item, err := st.getItem(context.Background(), jobKey(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{"created_id", "repo", "sha", "status", "kind", "repo_status", "attempt"} {
		if _, ok := item[attr]; !ok {
			t.Errorf("%s: %s missing after the rewrite", id, attr)
		}
	}
	for _, attr := range []string{"gsisk", "gsi1pk", "gsi2pk", "gsi3pk", "gsi4pk", "unpub"} {
		if _, ok := item[attr]; ok {
			t.Errorf("%s: the old %s is still there", id, attr)
		}
	}
	if oldLayout(item) {
		t.Errorf("%s still counts as old", id)
	}
}

// TestCreateTableRefusesOldLayout: CreateTable on a table of the first
// layout (its indexes keyed gsi1pk…, gsisk) says so instead of leaving
// listings to fail on every query.
func TestCreateTableRefusesOldLayout(t *testing.T) {
	testenv.AWSEndpoint(t)
	client := newClient(t)
	st := newTable(t, client)
	old := &dynamodb.CreateTableInput{TableName: aws.String(st.table + "-old"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            keySchema(attrPK, attrSK),
		AttributeDefinitions: []types.AttributeDefinition{stringAttr(attrPK), stringAttr(attrSK), stringAttr("gsi1pk"), stringAttr("gsisk")},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("by-repo"), KeySchema: keySchema("gsi1pk", "gsisk"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
	}
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: old.TableName}) })
	err := New(client, *old.TableName).CreateTable(ctx)
	if err == nil || !strings.Contains(err.Error(), `index by-repo is "gsi1pk/gsisk", want "repo/created_id"`) {
		t.Fatalf("CreateTable on a first-layout table: %v", err)
	}
}
