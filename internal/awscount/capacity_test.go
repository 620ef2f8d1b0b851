package awscount

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func str(n int) types.AttributeValue {
	return &types.AttributeValueMemberS{Value: strings.Repeat("x", n)}
}

func TestCapacity(t *testing.T) {
	small := item{"pk": str(10), "doc": str(500)} // 515 bytes
	big := item{"pk": str(10), "doc": str(3000)}  // 3,015 bytes: 3 KB started
	indexed := item{"pk": str(10), "kind": str(3), "created": str(30), "doc": str(500)}
	huge := item{"pk": str(10), "doc": str(9000)} // 9,015 bytes: 3 × 4 KB started
	ix := [][]string{{"kind", "created"}, {"repo", "created"}}
	for _, tt := range []struct {
		name        string
		in, out     any
		read, write float64
	}{
		{"put small", &dynamodb.PutItemInput{Item: small}, nil, 0, 1},
		{"put 3 KB", &dynamodb.PutItemInput{Item: big}, nil, 0, 3},
		{"put in one of two indexes", &dynamodb.PutItemInput{Item: indexed}, nil, 0, 2},
		{"delete", &dynamodb.DeleteItemInput{}, nil, 0, 1},
		{"batch", &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			"t": {{PutRequest: &types.PutRequest{Item: big}}, {DeleteRequest: &types.DeleteRequest{}}}}}, nil, 0, 4},
		{"consistent get", &dynamodb.GetItemInput{ConsistentRead: aws.Bool(true)}, &dynamodb.GetItemOutput{Item: huge}, 3, 0},
		{"eventual get", &dynamodb.GetItemInput{}, &dynamodb.GetItemOutput{Item: small}, 0.5, 0},
		{"get of nothing", &dynamodb.GetItemInput{ConsistentRead: aws.Bool(true)}, &dynamodb.GetItemOutput{}, 1, 0},
		{"query sums the page", &dynamodb.QueryInput{}, &dynamodb.QueryOutput{Items: []item{huge, big}}, 1.5, 0},
		{"failed get", &dynamodb.GetItemInput{}, nil, 0, 0},
		{"not DynamoDB", &struct{}{}, nil, 0, 0},
	} {
		r, w := capacity(tt.in, tt.out, ix)
		if r != tt.read || w != tt.write {
			t.Errorf("%s: %v read, %v write units; want %v, %v", tt.name, r, w, tt.read, tt.write)
		}
	}
}

func TestTally(t *testing.T) {
	var sum Tally
	sum.Add(Tally{Calls: map[string]int{"S3.PutObject": 2, "S3.GetObject": 1, "DynamoDB.PutItem": 1}, WriteUnits: 6})
	sum.Add(Tally{Calls: map[string]int{"S3.PutObject": 1}, ReadUnits: 0.5})
	if sum.Service("S3") != 4 || sum.Service("DynamoDB") != 1 || sum.Service("S") != 0 ||
		sum.WriteUnits != 6 || sum.ReadUnits != 0.5 {
		t.Errorf("sum %+v", sum)
	}
}

func TestDollars(t *testing.T) {
	p := Prices{DynamoWriteUnit: 1, DynamoReadUnit: 10, S3Put: 100, S3Get: 1000, SecretsCall: 10000}
	got := p.Dollars(Tally{WriteUnits: 3, ReadUnits: 0.5, Calls: map[string]int{"S3.PutObject": 2, "S3.ListObjectsV2": 1,
		"S3.GetObject": 1, "Secrets Manager.GetSecretValue": 1, "DynamoDB.PutItem": 3}})
	if want := 3 + 5 + 300 + 1000 + 10000.0; got != want {
		t.Errorf("Dollars = %v, want %v", got, want)
	}
	if got := p.Lambda(2, 1000, 512); got != 0 {
		t.Errorf("Lambda with no prices = %v", got)
	}
}
