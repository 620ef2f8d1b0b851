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

// Names of the global secondary indexes. Each is keyed by one partition
// attribute and the shared sort key attrSortKey, and projects ALL attributes.
const (
	indexRepo        = "by-repo"
	indexStatus      = "by-status"
	indexAll         = "by-created"
	indexRepoStatus  = "by-repo-status"
	indexUnpublished = "unpublished"
)

// indexes maps each GSI to its partition key attribute.
var indexes = []struct{ name, pk string }{
	{indexRepo, attrRepo},
	{indexStatus, attrStatus},
	{indexAll, attrAll},
	{indexRepoStatus, attrRepoStatus},
	{indexUnpublished, attrUnpub},
}

// tableWait bounds how long CreateTable waits for a new table to be ACTIVE.
const tableWait = 5 * time.Minute

// CreateTable creates the store's table with its indexes and enables TTL on
// the ttl attribute; a table that already exists is left as it is apart from
// TTL, so the call is idempotent. It returns when the table is ACTIVE.
// template.yaml declares the same table for deployments.
func (st *Store) CreateTable(ctx context.Context) error {
	_, err := st.db.CreateTable(ctx, tableInput(st.table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", st.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(st.db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &st.table}, tableWait); err != nil {
		return fmt.Errorf("create table %s: %w", st.table, err)
	}
	return st.enableTTL(ctx)
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
func tableInput(table string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(attrPK, attrSK),
		AttributeDefinitions: []types.AttributeDefinition{
			stringAttr(attrPK), stringAttr(attrSK), stringAttr(attrSortKey),
		},
	}
	for _, ix := range indexes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, stringAttr(ix.pk))
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.name),
			KeySchema:  keySchema(ix.pk, attrSortKey),
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
