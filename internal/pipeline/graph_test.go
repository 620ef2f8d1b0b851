package pipeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// steps writes a v1 steps list; each spec is "name" or "name: <depends_on value>".
func stepsYAML(specs ...string) string {
	var b strings.Builder
	b.WriteString("image: alpine\nsteps:\n")
	for _, s := range specs {
		name, deps, explicit := strings.Cut(s, ":")
		fmt.Fprintf(&b, "  - name: %s\n    commands: [x]\n", name)
		if explicit {
			fmt.Fprintf(&b, "    depends_on:%s\n", deps)
		}
	}
	return b.String()
}

func TestDependencyDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yml  string
		want map[string][]string
	}{
		{"file order", stepsYAML("a", "b", "c"),
			map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}}},
		{"explicit empty starts at once", stepsYAML("a", "b: []", "c"),
			map[string][]string{"a": nil, "b": nil, "c": {"b"}}},
		{"explicit replaces default", stepsYAML("a", "b", "c: a"),
			map[string][]string{"a": nil, "b": {"a"}, "c": {"a"}}},
		{"forward reference", stepsYAML("a: [c]", "b: [c]", "c: []"),
			map[string][]string{"a": {"c"}, "b": {"c"}, "c": nil}},
		{"first step with empty list", stepsYAML("a: []", "b"),
			map[string][]string{"a": nil, "b": {"a"}}},
		{"legacy empty means previous", "image: x\nsteps:\n- {name: a, command: x}\n" +
			"- {name: b, command: x, dependencies: []}\n- {name: c, command: x, dependencies: [a]}\n",
			map[string][]string{"a": nil, "b": {"a"}, "c": {"a"}}},
		{"legacy absent means previous", "image: x\nsteps:\n- {name: a, command: x}\n- {name: b, command: x}\n",
			map[string][]string{"a": nil, "b": {"a"}}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.name, []byte(tt.yml))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for step, want := range tt.want {
			if got := p.Deps(step); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Deps(%q) = %q, want %q", tt.name, step, got, want)
			}
		}
	}
}

func TestCycleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yml  string
		want []string // messages, in order
	}{
		{"two steps", stepsYAML("build: [test]", "test"),
			[]string{"dependency cycle: build -> test -> build"}},
		{"self", stepsYAML("a", "b: [b]"),
			[]string{`depends_on: step "b" depends on itself`}},
		{"through defaults", stepsYAML("a: [c]", "b", "c"),
			[]string{"dependency cycle: a -> c -> b -> a"}},
		{"two separate cycles", stepsYAML("a: [b]", "b: [a]", "c: [d]", "d: [c]"),
			[]string{"dependency cycle: a -> b -> a", "dependency cycle: c -> d -> c"}},
		{"one tangle named once", stepsYAML("a: [b]", "b: [a, c]", "c: [b]"),
			[]string{"dependency cycle: a -> b -> a"}},
		{"cycle and unknown", stepsYAML("a: [b, zz]", "b: [a]"),
			[]string{"dependency cycle: a -> b -> a", `depends_on: unknown step "zz"`}},
	}
	for _, tt := range tests {
		_, err := Parse("f.yml", []byte(tt.yml))
		errs, _ := err.(Errors)
		var got []string
		for _, e := range errs {
			got = append(got, e.Msg)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: errors %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOrder(t *testing.T) {
	t.Parallel()
	mk := func(deps ...[]string) *Pipeline {
		p := &Pipeline{}
		for i, d := range deps {
			p.Steps = append(p.Steps, Step{Name: string(rune('a' + i)), DependsOn: d})
		}
		return p
	}
	tests := []struct {
		name    string
		p       *Pipeline
		want    []string
		wantErr string
	}{
		{"chain", mk(nil, []string{"a"}, []string{"b"}), []string{"a", "b", "c"}, ""},
		{"reverse", mk([]string{"b"}, []string{"c"}, nil), []string{"c", "b", "a"}, ""},
		{"file order among ready", mk([]string{"c"}, nil, nil, []string{"b"}), []string{"b", "c", "a", "d"}, ""},
		{"diamond", mk(nil, []string{"a"}, []string{"a"}, []string{"c", "b"}), []string{"a", "b", "c", "d"}, ""},
		{"unknown", mk([]string{"x"}), nil, `step "a" depends on unknown step "x"`},
		{"cycle", mk([]string{"b"}, []string{"a"}), nil, "dependency cycle: a -> b -> a"},
		{"self", mk(nil, []string{"b"}), nil, "dependency cycle: b -> b"},
	}
	for _, tt := range tests {
		got, err := tt.p.Order()
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Order() = %v, %v, want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestDepsUnknownStep(t *testing.T) {
	t.Parallel()
	p := &Pipeline{Steps: []Step{{Name: "a", DependsOn: []string{"b"}}}}
	if got := p.Deps("nope"); got != nil {
		t.Errorf("Deps of unknown step = %v, want nil", got)
	}
	if got := p.Deps("a"); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("Deps(a) = %v", got)
	}
}
