package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Names of the global secondary indexes; each projects ALL attributes.
const (
	indexRepo        = "by-repo"
	indexSHA         = "by-sha"
	indexStatus      = "by-status"
	indexAll         = "by-created"
	indexRepoStatus  = "by-repo-status"
	indexUnpublished = "unpublished"
)

// indexes lists each GSI with its partition and sort key attributes. All
// but by-sha sort by attrCreatedID, the listing order.
var indexes = []struct{ name, pk, sk string }{
	{indexRepo, attrRepo, attrCreatedID},
	{indexSHA, attrRepo, attrSHA},
	{indexStatus, attrStatus, attrCreatedID},
	{indexAll, attrKind, attrCreatedID},
	{indexRepoStatus, attrRepoStatus, attrCreatedID},
	{indexUnpublished, attrUnpub, attrCreatedID},
}

// tableWait bounds how long CreateTable waits for a new table to be ACTIVE.
const tableWait = 5 * time.Minute

// CreateTable creates the store's table with its indexes and enables TTL on
// the ttl attribute; a table that already exists is left as it is apart from
// TTL, so the call is idempotent. It returns when the table is ACTIVE, or an
// error when an existing table lacks an index of the current layout (a table
// of the first layout: docs/store.md says how to move it). template.yaml
// declares the same table for deployments.
func (st *Store) CreateTable(ctx context.Context) error {
	_, err := st.db.CreateTable(ctx, tableInput(st.table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", st.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(st.db)
	out, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &st.table}, tableWait)
	if err != nil {
		return fmt.Errorf("create table %s: %w", st.table, err)
	}
	if err := checkIndexes(out.Table); err != nil {
		return fmt.Errorf("table %s: %w", st.table, err)
	}
	return st.enableTTL(ctx)
}

// checkIndexes reports the first index of the current layout that table
// lacks or keys differently.
func checkIndexes(table *types.TableDescription) error {
	have := map[string]string{}
	for _, g := range table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = keyNames(g.KeySchema)
	}
	for _, ix := range indexes {
		if want := ix.pk + "/" + ix.sk; have[ix.name] != want {
			return fmt.Errorf("index %s is %q, want %q (a table of the first layout? see docs/store.md)",
				ix.name, have[ix.name], want)
		}
	}
	return nil
}

func keyNames(ks []types.KeySchemaElement) string {
	var hash, rng string
	for _, k := range ks {
		if k.KeyType == types.KeyTypeHash {
			hash = aws.ToString(k.AttributeName)
		} else {
			rng = aws.ToString(k.AttributeName)
		}
	}
	return hash + "/" + rng
}

func (st *Store) enableTTL(ctx context.Context) error {
	desc, err := st.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &st.table})
	if err != nil {
		return fmt.Errorf("describe ttl of %s: %w", st.table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil && (d.TimeToLiveStatus == types.TimeToLiveStatusEnabled ||
		d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = st.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &st.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrTTL), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", st.table, err)
	}
	return nil
}

// tableInput is the table definition: pk/sk, the GSIs, on-demand billing.
// Every key attribute is defined once (the API refuses duplicates).
func tableInput(table string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(attrPK, attrSK),
	}
	defined := map[string]bool{}
	define := func(attrs ...string) {
		for _, a := range attrs {
			if !defined[a] {
				defined[a] = true
				in.AttributeDefinitions = append(in.AttributeDefinitions, stringAttr(a))
			}
		}
	}
	define(attrPK, attrSK)
	for _, ix := range indexes {
		define(ix.pk, ix.sk)
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.name),
			KeySchema:  keySchema(ix.pk, ix.sk),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return in
}

func keySchema(hash, rng string) []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
	}
}

func stringAttr(name string) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
}

// IndexKeys are the key attributes of each GSI (awscount.Counter.Indexes):
// an item holding all of an index's is written there too.
func IndexKeys() [][]string {
	keys := make([][]string, 0, len(indexes))
	for _, ix := range indexes {
		keys = append(keys, []string{ix.pk, ix.sk})
	}
	return keys
}
