package localstack

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// functions reads the environment each function of template.yaml declares,
// the globals included. Intrinsic functions (!Ref ...) decode to their
// arguments, which is enough here.
func functions(t *testing.T) map[string]map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type env struct {
		Environment struct {
			Variables map[string]any `yaml:"Variables"`
		} `yaml:"Environment"`
	}
	var tpl struct {
		Globals struct {
			Function env `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties env    `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	fns := map[string]map[string]any{}
	for name, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		vars := map[string]any{}
		for k, v := range tpl.Globals.Function.Environment.Variables {
			vars[k] = v
		}
		for k, v := range r.Properties.Environment.Variables {
			vars[k] = v
		}
		fns[name] = vars
	}
	return fns
}

// TestEnvJSON: `sam local --env-vars env.json` silently ignores variables
// the template does not declare, so every one in env.json must be declared
// by its function; and the names in it must be those the init hook creates.
func TestEnvJSON(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("env.json")
	if err != nil {
		t.Fatal(err)
	}
	var envs map[string]map[string]string
	if err := json.Unmarshal(raw, &envs); err != nil {
		t.Fatalf("env.json: %v", err)
	}
	fns := functions(t)
	hook, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^ensure_secret ([a-z-]+)`).FindAllStringSubmatch(string(hook), -1) {
		secrets["narwhal/"+m[1]] = true
	}
	if len(envs) != len(fns) {
		t.Errorf("env.json configures %d functions, the template has %d", len(envs), len(fns))
	}
	for fn, vars := range envs {
		declared, ok := fns[fn]
		if !ok {
			t.Errorf("env.json: %s is no function of template.yaml", fn)
			continue
		}
		for k, v := range vars {
			if _, ok := declared[k]; !ok {
				t.Errorf("env.json: %s.%s is not declared in the template, so sam local would ignore it", fn, k)
			}
			if strings.HasSuffix(k, "_SECRET_ARN") && v != "" && !secrets[v] {
				t.Errorf("env.json: %s.%s = %q, a secret the init hook does not create", fn, k, v)
			}
		}
		if vars["NARWHAL_TABLE"] != "narwhal-jobs" || vars["AWS_ENDPOINT_URL"] != "http://localstack:4566" {
			t.Errorf("env.json: %s must use the hook's table and LocalStack on the compose network", fn)
		}
	}
}
