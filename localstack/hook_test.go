// Package localstack holds the tests of the local stack's files: the
// LocalStack init hook (run here against moto_server through an awslocal
// stand-in) and env.json for `sam local`.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"gopkg.in/yaml.v3"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

const hook = "init/ready.d/10-narwhal.sh"

// TestInitHook runs the hook twice against moto_server with an `awslocal`
// that is `aws --endpoint-url $AWS_ENDPOINT_URL`, and checks with the SDK
// that the table equals template.yaml's JobTable and that the bucket and the
// secrets exist; the second run changes nothing.
func TestInitHook(t *testing.T) {
	testenv.AWSEndpoint(t)
	if fi, err := os.Stat(hook); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s must exist and be executable (%v)", hook, err)
	}
	id := randomID()
	names := map[string]string{"NARWHAL_TABLE": "narwhal-hooktest-" + id,
		"NARWHAL_LOG_BUCKET": "narwhal-hooktest-" + id, "NARWHAL_SECRET_PREFIX": "narwhal-hooktest-" + id + "/"}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(awsCfg, names) })

	out := runHook(t, names)
	checkTable(t, awsCfg, names["NARWHAL_TABLE"])
	checkBucketAndSecrets(t, awsCfg, names)

	// The second run leaves everything, a changed secret value included.
	sm := secretsmanager.NewFromConfig(awsCfg)
	webhook := aws.String(names["NARWHAL_SECRET_PREFIX"] + "webhook-secret")
	if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: webhook, SecretString: aws.String("rotated")}); err != nil {
		t.Fatal(err)
	}
	out = runHook(t, names)
	if strings.Contains(out, "created") || strings.Count(out, "exists") != 7 {
		t.Fatalf("second run was not a no-op:\n%s", out)
	}
	v, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: webhook})
	if err != nil || aws.ToString(v.SecretString) != "rotated" {
		t.Fatalf("the second run touched the webhook secret: %v %v", aws.ToString(v.SecretString), err)
	}
	checkTable(t, awsCfg, names["NARWHAL_TABLE"])
}

// runHook runs the hook with an awslocal stand-in first in PATH.
func runHook(t *testing.T, names map[string]string) string {
	t.Helper()
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nexec " + awsCLI(t) + " --endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "awslocal"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./"+hook)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=")
	for k, v := range names {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", hook, err, out)
	}
	return string(out)
}

// awsCLI finds the aws command, skipping pyenv's shim (a second or so per
// call) when it can.
func awsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		testenv.Missing(t, "the aws CLI (pip install awscli)")
	}
	if strings.Contains(path, "/shims/") {
		if real, err := exec.Command("pyenv", "which", "aws").Output(); err == nil {
			return strings.TrimSpace(string(real))
		}
	}
	return path
}

// jobTable is the part of template.yaml's JobTable the hook must match.
type jobTable struct {
	Resources struct {
		JobTable struct {
			Properties struct {
				AttributeDefinitions []struct {
					Name string `yaml:"AttributeName"`
					Type string `yaml:"AttributeType"`
				} `yaml:"AttributeDefinitions"`
				KeySchema              []keyElement `yaml:"KeySchema"`
				GlobalSecondaryIndexes []struct {
					Name       string       `yaml:"IndexName"`
					KeySchema  []keyElement `yaml:"KeySchema"`
					Projection struct {
						Type string `yaml:"ProjectionType"`
					} `yaml:"Projection"`
				} `yaml:"GlobalSecondaryIndexes"`
				TTL struct {
					Attribute string `yaml:"AttributeName"`
					Enabled   bool   `yaml:"Enabled"`
				} `yaml:"TimeToLiveSpecification"`
			} `yaml:"Properties"`
		} `yaml:"JobTable"`
	} `yaml:"Resources"`
}

type keyElement struct {
	Name string `yaml:"AttributeName"`
	Type string `yaml:"KeyType"`
}

func templateTable(t *testing.T) jobTable {
	t.Helper()
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl jobTable
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if len(tpl.Resources.JobTable.Properties.KeySchema) == 0 {
		t.Fatal("template.yaml has no JobTable key schema")
	}
	return tpl
}

// checkTable compares the table with the template: attributes, key schema,
// each index's name, key schema and projection, and TTL.
func checkTable(t *testing.T, awsCfg aws.Config, table string) {
	t.Helper()
	want := templateTable(t).Resources.JobTable.Properties
	db := dynamodb.NewFromConfig(awsCfg)
	desc, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	got := desc.Table
	var gotAttrs, wantAttrs []string
	for _, a := range got.AttributeDefinitions {
		gotAttrs = append(gotAttrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	for _, a := range want.AttributeDefinitions {
		wantAttrs = append(wantAttrs, a.Name+":"+a.Type)
	}
	sort.Strings(gotAttrs)
	sort.Strings(wantAttrs)
	if !reflect.DeepEqual(gotAttrs, wantAttrs) {
		t.Errorf("attributes %v, template %v", gotAttrs, wantAttrs)
	}
	if g, w := keys(got.KeySchema), fmtKeys(want.KeySchema); g != w {
		t.Errorf("key schema %s, template %s", g, w)
	}
	gotIdx, wantIdx := map[string]string{}, map[string]string{}
	for _, ix := range got.GlobalSecondaryIndexes {
		gotIdx[aws.ToString(ix.IndexName)] = keys(ix.KeySchema) + " " + string(ix.Projection.ProjectionType)
	}
	for _, ix := range want.GlobalSecondaryIndexes {
		wantIdx[ix.Name] = fmtKeys(ix.KeySchema) + " " + ix.Projection.Type
	}
	if !reflect.DeepEqual(gotIdx, wantIdx) {
		t.Errorf("indexes %v, template %v", gotIdx, wantIdx)
	}
	ttl, err := db.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil || !want.TTL.Enabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != want.TTL.Attribute ||
		!strings.HasPrefix(string(ttl.TimeToLiveDescription.TimeToLiveStatus), "ENABL") {
		t.Errorf("TTL %+v (%v), template %+v", ttl.TimeToLiveDescription, err, want.TTL)
	}
}

func checkBucketAndSecrets(t *testing.T, awsCfg aws.Config, names map[string]string) {
	t.Helper()
	ctx := context.Background()
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(names["NARWHAL_LOG_BUCKET"])}); err != nil {
		t.Errorf("log bucket: %v", err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	for name, check := range map[string]func(string) bool{
		"webhook-secret": func(v string) bool { return v == "narwhal-test-secret" },
		"runner-token":   func(v string) bool { return len(v) >= 16 },
		"github-token":   func(v string) bool { return v != "" },
		"mq":             func(v string) bool { return strings.Contains(v, `"username"`) },
	} {
		id := names["NARWHAL_SECRET_PREFIX"] + name
		v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil || !check(aws.ToString(v.SecretString)) {
			t.Errorf("secret %s = %q (%v)", id, aws.ToString(v.SecretString), err)
		}
	}
}

func cleanup(awsCfg aws.Config, names map[string]string) {
	ctx := context.Background()
	dynamodb.NewFromConfig(awsCfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(names["NARWHAL_TABLE"])})
	s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }).
		DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(names["NARWHAL_LOG_BUCKET"])})
	sm := secretsmanager.NewFromConfig(awsCfg)
	for _, name := range []string{"webhook-secret", "runner-token", "github-token", "mq"} {
		sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(names["NARWHAL_SECRET_PREFIX"] + name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	}
}

// keys prints a key schema as "pk:HASH sk:RANGE"; fmtKeys the template's.
func keys(ks []types.KeySchemaElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(parts, " ")
}

func fmtKeys(ks []keyElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, k.Name+":"+k.Type)
	}
	return strings.Join(parts, " ")
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
