package dynamo

import (
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// TestTableMatchesTemplate: CreateTable makes the JobTable of template.yaml
// (attributes, keys, indexes), so dev, tests and deployments share a layout.
func TestTableMatchesTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type keyElem struct {
		Name string `yaml:"AttributeName"`
		Type string `yaml:"KeyType"`
	}
	var tpl struct {
		Resources struct {
			JobTable struct {
				Properties struct {
					Attrs []struct {
						Name string `yaml:"AttributeName"`
					} `yaml:"AttributeDefinitions"`
					Indexes []struct {
						Name string    `yaml:"IndexName"`
						Keys []keyElem `yaml:"KeySchema"`
					} `yaml:"GlobalSecondaryIndexes"`
				} `yaml:"Properties"`
			} `yaml:"JobTable"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	in := tableInput("t")
	var got, want []string
	for _, a := range in.AttributeDefinitions {
		got = append(got, aws.ToString(a.AttributeName))
	}
	for _, a := range tpl.Resources.JobTable.Properties.Attrs {
		want = append(want, a.Name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes %v, template %v", got, want)
	}
	gotIdx, wantIdx := map[string]string{}, map[string]string{}
	for _, g := range in.GlobalSecondaryIndexes {
		gotIdx[aws.ToString(g.IndexName)] = keyString(g.KeySchema)
	}
	for _, ix := range tpl.Resources.JobTable.Properties.Indexes {
		var ks []types.KeySchemaElement
		for _, k := range ix.Keys {
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: types.KeyType(k.Type)})
		}
		wantIdx[ix.Name] = keyString(ks)
	}
	if !reflect.DeepEqual(gotIdx, wantIdx) {
		t.Errorf("indexes %v, template %v", gotIdx, wantIdx)
	}
}

func keyString(ks []types.KeySchemaElement) string {
	s := ""
	for _, k := range ks {
		s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType) + " "
	}
	return s
}
