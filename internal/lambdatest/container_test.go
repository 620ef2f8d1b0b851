package lambdatest

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gopkg.in/yaml.v3"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/mqbridge"
	"github.com/narwhal-ci/narwhal/internal/samevents"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// TestSAMContainerLayout runs both bootstraps the way `sam local invoke`
// does — in a container of the provided.al2023 base image (seeded here from
// a static busybox), the bootstrap read-only at /var/task, the emulator as
// entrypoint, the environment template.yaml declares (with test values in
// place of what sam's --env-vars would override), a read-only root
// filesystem apart from /tmp — and invokes them with every file of events/,
// against moto_server and the test RabbitMQ reached from the container.
// Each answer is judged by samevents, as `make sam-local` judges sam's.
func TestSAMContainerLayout(t *testing.T) {
	testenv.AWSEndpoint(t)
	s := newServices(t, testenv.AMQPURL(t))
	image, rie := BaseImage(t), RIE(t)
	fns := map[string]*Function{
		samevents.Agent:      startFromTemplate(t, image, rie, samevents.Agent, "./functions/agent", agentOverrides(t, s)),
		samevents.Dispatcher: startFromTemplate(t, image, rie, samevents.Dispatcher, "./functions/dispatcher", dispatcherOverrides(t, s)),
	}
	samples, err := samevents.Load(filepath.Join(RepoRoot(t), "events"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, sm := range samples {
		payload := sm.Payload
		if sm.Kind == samevents.KindMQ {
			payload = prefixed(t, s.prefix, payload)
		}
		out, err := fns[sm.Function].Call(ctx, payload)
		if fe := (*mqbridge.FunctionError)(nil); errors.As(err, &fe) {
			out, err = []byte(`{"errorMessage":`+strconv.Quote(fe.Message)+`,"errorType":"`+fe.Type+`"}`), nil
		}
		if err != nil {
			t.Fatalf("%s to %s: %v", sm.Name, sm.Function, err)
		}
		if err := sm.Check(out); err != nil {
			t.Errorf("%s: %v", sm.Function, err)
		}
	}
	checkEffects(t, s, samples)
	for name, fn := range fns {
		if logs := fn.Logs(); strings.Contains(logs, "read-only file system") || strings.Contains(logs, "permission denied") {
			t.Errorf("%s wrote outside /tmp:\n%s", name, logs)
		}
	}
}

// checkEffects: the push's job is stored and published, and the dispatcher
// took the batch of mq-batch.json (its job waits: no runner is registered).
func checkEffects(t *testing.T, s *services, samples []samevents.Sample) {
	t.Helper()
	var batch []byte
	for _, sm := range samples {
		if sm.Kind == samevents.KindMQ {
			batch = sm.Payload
		}
	}
	j, err := s.store.GetJob(context.Background(), jobOf(t, batch))
	if err != nil || !j.Published || j.Repo != "narwhal-ci/hello-narwhal" {
		t.Fatalf("the job of push.json and mq-batch.json: %+v (%v)", j, err)
	}
	if j.Status != ci.StatusQueued || j.Waiting != "no runners registered" {
		t.Errorf("after mq-batch.json the job is %s (%q), want queued and waiting for a runner", j.Status, j.Waiting)
	}
}

// startFromTemplate starts the function name of template.yaml in its
// container with the environment the template declares for it; overrides
// stand for sam's --env-vars and, like them, may only set declared
// variables (AWS_ENDPOINT_URL among them).
func startFromTemplate(t *testing.T, image, rie, name, pkg string, overrides map[string]string) *Function {
	t.Helper()
	decl, timeout := templateEnv(t, name)
	env := map[string]string{}
	for k, v := range decl {
		env[k] = v
	}
	for k, v := range overrides {
		if _, ok := decl[k]; !ok {
			t.Fatalf("%s: the test sets %s, which template.yaml does not declare (sam local would ignore it)", name, k)
		}
		env[k] = v
	}
	return StartContainer(t, image, rie, Build(t, pkg), Options{Name: name, Timeout: timeout, Env: env})
}

func agentOverrides(t *testing.T, s *services) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL": os.Getenv("AWS_ENDPOINT_URL"),
		"NARWHAL_TABLE":    s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
		"NARWHAL_WEBHOOK_SECRET_ARN": s.secret(t, "webhook", "narwhal-test-secret"),
	}
}

func dispatcherOverrides(t *testing.T, s *services) map[string]string {
	bucket := s.table
	s3c := s3.NewFromConfig(s.awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3c.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &bucket}) })
	cert, _, err := tlsgen.SelfSigned([]string{"runner.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"AWS_ENDPOINT_URL": os.Getenv("AWS_ENDPOINT_URL"),
		"NARWHAL_TABLE":    s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
		"NARWHAL_LOG_BUCKET":              bucket,
		"NARWHAL_RUNNER_TOKEN_SECRET_ARN": s.secret(t, "runner-token", "runner-token-0123456789"),
		"NARWHAL_RUNNER_CA":               base64.StdEncoding.EncodeToString(cert),
		"NARWHAL_API_TOKENS_SECRET_ARN":   s.secret(t, "api-tokens", "api-token"),
	}
}

// templateEnv reads what template.yaml gives function name: its
// environment variables (the Globals' and its own) and its timeout. A
// literal keeps its value; an intrinsic (!Ref, !GetAtt, !Select ...) has no
// value outside CloudFormation and becomes "", for the overrides to set.
func templateEnv(t *testing.T, name string) (map[string]string, time.Duration) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	env, timeout := map[string]string{}, 3*time.Second // Lambda's default
	for _, props := range []*yaml.Node{lookup(root.Content[0], "Globals", "Function"),
		lookup(root.Content[0], "Resources", name, "Properties")} {
		if props == nil {
			continue
		}
		if n := lookup(props, "Timeout"); n != nil {
			secs, err := strconv.Atoi(n.Value)
			if err != nil {
				t.Fatalf("%s: Timeout %q", name, n.Value)
			}
			timeout = time.Duration(secs) * time.Second
		}
		vars := lookup(props, "Environment", "Variables")
		for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
			k, v := vars.Content[i].Value, vars.Content[i+1]
			env[k] = ""
			if v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Tag, "!") || v.Tag == "!!str" {
				env[k] = v.Value
			}
		}
	}
	if len(env) == 0 {
		t.Fatalf("template.yaml declares no environment for %s", name)
	}
	return env, timeout
}

// lookup follows keys through nested mappings; nil when one is missing.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// TestTemplateEnv: literals keep their values, intrinsics are empty, the
// function's own values win over the Globals'.
func TestTemplateEnv(t *testing.T) {
	env, timeout := templateEnv(t, samevents.Dispatcher)
	if env["NARWHAL_LOG_PREFIX"] != "logs" || env["NARWHAL_LOG_LEVEL"] != "info" {
		t.Errorf("literals: %v", env)
	}
	if v, ok := env["NARWHAL_TABLE"]; !ok || v != "" {
		t.Errorf("NARWHAL_TABLE (!Ref JobTable) = %q, %v; want declared and empty", v, ok)
	}
	if timeout != 60*time.Second {
		t.Errorf("timeout %v, want the dispatcher's 60s", timeout)
	}
	if _, timeout := templateEnv(t, samevents.Agent); timeout != 10*time.Second {
		t.Errorf("agent timeout %v, want the Globals' 10s", timeout)
	}
}
