package pipeline

import (
	"container/heap"
	"fmt"
	"strings"
)

// Names returns the step names in file order.
func (p *Pipeline) Names() []string {
	names := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		names[i] = s.Name
	}
	return names
}

// Deps returns the dependencies of the named step: the steps that must
// finish before it starts. After Parse this is the resolved list (see
// Parse). It is nil for a step without dependencies or an unknown name.
func (p *Pipeline) Deps(step string) []string {
	for i := range p.Steps {
		if p.Steps[i].Name == step {
			return p.Steps[i].DependsOn
		}
	}
	return nil
}

// Order returns the step names in an order in which every step comes after
// all its dependencies; among steps whose dependencies are met at the same
// time, file order wins. It uses DependsOn as it is (no defaulting), and
// fails only for a pipeline Parse would reject: a dependency on an unknown
// step, or a cycle.
func (p *Pipeline) Order() ([]string, error) {
	index := stepIndex(p.Steps)
	waiting := make([]int, len(p.Steps))      // unmet dependencies per step
	dependents := make([][]int, len(p.Steps)) // reverse edges
	ready := &StepHeap{}
	for i, s := range p.Steps {
		for _, dep := range s.DependsOn {
			j, ok := index[dep]
			if !ok {
				return nil, fmt.Errorf("step %q depends on unknown step %q", s.Name, dep)
			}
			waiting[i]++
			dependents[j] = append(dependents[j], i)
		}
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]string, 0, len(p.Steps))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, p.Steps[i].Name)
		for _, j := range dependents[i] {
			if waiting[j]--; waiting[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	if len(order) < len(p.Steps) {
		if cs := cycles(p.Steps); len(cs) > 0 {
			return nil, fmt.Errorf("dependency cycle: %s", strings.Join(cs[0], " -> "))
		}
		return nil, fmt.Errorf("steps cannot be ordered (duplicate step names?)")
	}
	return order, nil
}

// cycles returns dependency cycles among steps, each as the names along it
// (first name repeated at the end, "a" -> "b" meaning a depends on b),
// starting at its earliest step in file order. Cycles sharing a step with
// one already found are left out, so each tangle is named once. A step
// depending on itself is the cycle [a a]. Unknown names are ignored.
func cycles(steps []Step) [][]string {
	c := &cycleFinder{steps: steps, index: stepIndex(steps), state: make([]int8, len(steps)), reported: make([]bool, len(steps))}
	for i := range steps {
		if c.state[i] == unvisited {
			c.visit(i)
		}
	}
	return c.found
}

// DFS states of a step.
const (
	unvisited int8 = iota
	onStack
	done
)

type cycleFinder struct {
	steps    []Step
	index    map[string]int
	state    []int8
	stack    []int
	reported []bool
	found    [][]string
}

func (c *cycleFinder) visit(i int) {
	c.state[i] = onStack
	c.stack = append(c.stack, i)
	for _, dep := range c.steps[i].DependsOn {
		j, ok := c.index[dep]
		switch {
		case !ok:
		case c.state[j] == unvisited:
			c.visit(j)
		case c.state[j] == onStack:
			c.record(j)
		}
	}
	c.stack = c.stack[:len(c.stack)-1]
	c.state[i] = done
}

// record notes the cycle from step j (on the stack) to the top of the stack.
func (c *cycleFinder) record(j int) {
	at := len(c.stack) - 1
	for c.stack[at] != j {
		at--
	}
	loop := c.stack[at:]
	first := 0
	for k, i := range loop {
		if c.reported[i] {
			return
		}
		if i < loop[first] {
			first = k
		}
	}
	names := make([]string, 0, len(loop)+1)
	for k := range loop {
		i := loop[(first+k)%len(loop)]
		c.reported[i] = true
		names = append(names, c.steps[i].Name)
	}
	c.found = append(c.found, append(names, names[0]))
}

// stepIndex maps step names to their index; the first step of a name wins.
func stepIndex(steps []Step) map[string]int {
	index := make(map[string]int, len(steps))
	for i, s := range steps {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	return index
}

// StepHeap is a min-heap (container/heap) of step indexes: the steps in the
// order they are written, for the topological order here and the engine's
// ready queue.
type StepHeap []int

// Len, Less, Swap, Push and Pop implement heap.Interface.
func (h StepHeap) Len() int           { return len(h) }
func (h StepHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h StepHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *StepHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *StepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
