package engine

import (
	"container/heap"
	"context"

	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// readyQueue finds the steps to decide without rescanning the pipeline: the
// step graph by index (counts of unfinished dependencies, reverse edges) and
// min-heaps of the steps whose dependencies are all final. Every step enters
// the queue once, when its last dependency becomes final, so a job costs
// O((steps + edges) log steps) however many times a step finishes.
//
// It reproduces the order of a rescanning scheduler exactly: passes over
// the steps in file order, repeated while a pass decided something. A step
// that becomes ready behind the step being decided (a lower index) waits
// for the next pass (next); one ahead of it joins this pass (cur). Steps
// held back by MaxParallel wait in held, and are tried again, in file order
// with the rest, only while a slot is free, or all of them when what a
// decision depends on changed (a step failed, the job ended).
//
// Only the goroutine that schedules the job uses it.
type readyQueue struct {
	waiting    []int   // dependencies not yet final, per step
	dependents [][]int // the steps that depend on each step
	cur, next  pipeline.StepHeap
	held       pipeline.StepHeap
	cursor     int       // the step being decided; -1 between passes
	heldWhen   heldState // the state in which held steps were last tried
	decisions  int       // decide calls so far: the work done
}

// heldState is what a held step's decision depends on, besides a free slot.
type heldState struct{ failed, ended bool }

// newReadyQueue indexes p, whose dependencies name steps that exist (check),
// with the steps without dependencies ready.
func newReadyQueue(p *pipeline.Pipeline) *readyQueue {
	q := &readyQueue{waiting: make([]int, len(p.Steps)), dependents: make([][]int, len(p.Steps)), cursor: -1}
	index := make(map[string]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Name] = i
	}
	for i, s := range p.Steps {
		for _, dep := range s.DependsOn {
			j := index[dep]
			q.waiting[i]++
			q.dependents[j] = append(q.dependents[j], i)
		}
		if q.waiting[i] == 0 {
			q.cur = append(q.cur, i) // ascending: already a heap
		}
	}
	return q
}

// final notes that step i is final: the steps that waited only for it are
// ready, in this pass or the next.
func (q *readyQueue) final(i int) {
	for _, j := range q.dependents[i] {
		if q.waiting[j]--; q.waiting[j] > 0 {
			continue
		}
		if j > q.cursor {
			heap.Push(&q.cur, j)
		} else {
			heap.Push(&q.next, j)
		}
	}
}

// wake returns the held steps to the pass when the state they were held in
// changed: their decision may now be a skip or a cancellation.
func (q *readyQueue) wake(ctx context.Context, failed bool) {
	now := heldState{failed: failed, ended: ctx.Err() != nil}
	if now == q.heldWhen {
		return
	}
	q.heldWhen = now
	for _, i := range q.held {
		heap.Push(&q.cur, i)
	}
	q.held = q.held[:0]
}

// pop returns the next step to decide: the lowest ready index of this pass,
// held steps included when a slot is free; then the next pass. ok is false
// when no step can be decided.
func (q *readyQueue) pop(slotFree bool) (i int, ok bool) {
	if q.cur.Len() == 0 && (!slotFree || q.held.Len() == 0) {
		if q.next.Len() == 0 {
			return 0, false
		}
		q.cur, q.next = q.next, q.cur
	}
	from := &q.cur
	if slotFree && q.held.Len() > 0 && (q.cur.Len() == 0 || q.held[0] < q.cur[0]) {
		from = &q.held
	}
	i = heap.Pop(from).(int)
	q.cursor = i
	q.decisions++
	return i, true
}

// hold keeps step i, which waits for a free slot, for a later pass.
func (q *readyQueue) hold(i int) { heap.Push(&q.held, i) }

// endPass marks the end of a round of decisions.
func (q *readyQueue) endPass() { q.cursor = -1 }
