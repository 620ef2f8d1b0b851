package awscount

import (
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is a DynamoDB item.
type item = map[string]types.AttributeValue

// capacity returns the read and write units of one DynamoDB call from its
// input and output (0, 0 for any other service's call or a failed one).
func capacity(in, out any, indexes [][]string) (read, write float64) {
	switch in := in.(type) {
	case *dynamodb.PutItemInput:
		return 0, writeUnits(in.Item, indexes)
	case *dynamodb.DeleteItemInput:
		return 0, 1
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					write += writeUnits(r.PutRequest.Item, indexes)
				} else {
					write++
				}
			}
		}
		return 0, write
	case *dynamodb.GetItemInput:
		if o, ok := out.(*dynamodb.GetItemOutput); ok {
			return readUnits(size(o.Item), aws.ToBool(in.ConsistentRead)), 0
		}
	case *dynamodb.QueryInput:
		if o, ok := out.(*dynamodb.QueryOutput); ok {
			return readUnits(sizes(o.Items), aws.ToBool(in.ConsistentRead)), 0
		}
	case *dynamodb.ScanInput:
		if o, ok := out.(*dynamodb.ScanOutput); ok {
			return readUnits(sizes(o.Items), aws.ToBool(in.ConsistentRead)), 0
		}
	}
	return 0, 0
}

// writeUnits: a unit per started KB, in the table and in every index the
// item has the keys of.
func writeUnits(it item, indexes [][]string) float64 {
	per := math.Max(1, math.Ceil(float64(size(it))/1024))
	units := per
	for _, keys := range indexes {
		if hasAll(it, keys) {
			units += per
		}
	}
	return units
}

func hasAll(it item, attrs []string) bool {
	for _, a := range attrs {
		if _, ok := it[a]; !ok {
			return false
		}
	}
	return len(attrs) > 0
}

// readUnits: a unit per started 4 KB of what was read, half of it when
// eventually consistent; a read of nothing still costs the minimum.
func readUnits(bytes int, consistent bool) float64 {
	units := math.Max(1, math.Ceil(float64(bytes)/4096))
	if !consistent {
		units /= 2
	}
	return units
}

func sizes(items []item) int {
	n := 0
	for _, it := range items {
		n += size(it)
	}
	return n
}

// size is DynamoDB's item size: attribute names plus values.
func size(it item) int {
	n := 0
	for name, v := range it {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberM:
		return 3 + size(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 1 // BOOL, NULL
}
