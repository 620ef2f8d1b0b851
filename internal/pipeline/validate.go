package pipeline

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// validate checks what involves more than one key: unique step names,
// images, and the dependency graph, whose defaults it fills in (and the
// caches of steps, from the pipeline's).
func (p *parser) validate(d *draftPipeline) {
	p.uniqueSteps(d.steps)
	for _, s := range d.steps {
		p.defaultImage(d, s)
		defaultCache(d, s)
	}
	resolveDeps(d.steps)
	p.checkDeps(d)
}

// uniqueSteps reports step names used twice.
func (p *parser) uniqueSteps(steps []*draft) {
	first := make(map[string]*yaml.Node)
	for _, s := range steps {
		if s.nameAt == nil {
			continue
		}
		if prev := first[s.Name]; prev != nil {
			at := s.nameAt
			if at == prev { // the same mapping again, through an alias
				at = s.ref
			}
			p.errorf(at, "duplicate step name %q (first at line %d)", s.Name, prev.Line)
			continue
		}
		first[s.Name] = s.nameAt
	}
}

// defaultImage gives s the pipeline's image when it has none.
func (p *parser) defaultImage(d *draftPipeline, s *draft) {
	if s.Image != "" || s.node.Kind != yaml.MappingNode || lookup(p.fields(s.node), "image") != nil {
		return
	}
	switch {
	case d.Image != "":
		s.Image = d.Image
	case !d.imageSet:
		p.errorf(s.node, "missing required key \"image\" in %s (there is no pipeline image to default to)", s.label)
	}
}

// resolveDeps gives each step without depends_on (or with an empty legacy
// dependencies list) the previous step as its dependency.
func resolveDeps(steps []*draft) {
	for i, s := range steps {
		if s.deps == nil && i > 0 && steps[i-1].Name != "" {
			s.DependsOn = []string{steps[i-1].Name}
		}
	}
}

// checkDeps reports dependencies on unknown steps and cycles.
func (p *parser) checkDeps(d *draftPipeline) {
	names := make([]string, 0, len(d.steps))
	known := make(map[string]bool, len(d.steps))
	all := make([]Step, len(d.steps))
	for i, s := range d.steps {
		names = append(names, s.Name)
		known[s.Name] = true
		all[i] = s.Step
	}
	services := make(map[string]bool, len(d.Services))
	for _, svc := range d.Services {
		services[svc.Name] = true
	}
	for _, s := range d.steps {
		for _, n := range s.depNodes {
			if !known[n.Value] {
				p.unknownDep(services, s, n, names)
			}
		}
	}
	index := stepIndex(all)
	for _, c := range cycles(all) {
		p.cycle(d.steps[index[c[0]]], c)
	}
}

// maxSuggestWork bounds how many step names are compared with unknown
// dependencies in all, so a hostile file cannot make suggestions quadratic.
const maxSuggestWork = 100_000

// unknownDep reports a dependency on a step that does not exist.
func (p *parser) unknownDep(services map[string]bool, s *draft, n *yaml.Node, steps []string) {
	if services[n.Value] {
		p.errorf(n, "%s: %q is a service, not a step (services start before the first step)", s.depsKey, n.Value)
		return
	}
	hint := ""
	if p.suggestWork += len(steps); p.suggestWork <= maxSuggestWork {
		hint = didYouMean(n.Value, steps)
	}
	p.errorf(n, "%s: unknown step %q%s", s.depsKey, n.Value, hint)
}

// cycle reports the dependency cycle c (names, first repeated at the end) at
// the dependency of its first step, from, that starts it.
func (p *parser) cycle(from *draft, c []string) {
	at := from.deps
	for _, n := range from.depNodes {
		if n.Value == c[1] {
			at = n
			break
		}
	}
	if len(c) == 2 {
		p.errorf(at, "%s: step %q depends on itself", from.depsKey, c[0])
		return
	}
	p.errorf(at, "dependency cycle: %s", strings.Join(c, " -> "))
}
