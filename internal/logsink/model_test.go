package logsink

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// model is the cap's behaviour written the obvious way: whole lines in
// slices, no ring. The Sink must deliver exactly what it delivers.
type model struct {
	headCap, headUsed, tailCap, tailUsed int
	closed                               bool
	tail                                 []mline
	size                                 int
	elided                               map[string]int
	out                                  []string
}

type mline struct{ step, text string }

func (m *model) put(step, text string) {
	n := len(text) + 1
	if !m.closed && m.headUsed+n <= m.headCap {
		m.headUsed += n
		m.out = append(m.out, step+": "+text)
		return
	}
	m.closed = true
	limit := m.tailCap - m.tailUsed
	if n > limit {
		m.elided[step] += n
		return
	}
	m.shrink(limit - n)
	m.tail = append(m.tail, mline{step, text})
	m.size += n
}

// shrink drops the oldest lines until at most limit bytes remain.
func (m *model) shrink(limit int) {
	for m.size > limit {
		f := m.tail[0]
		m.tail = m.tail[1:]
		m.size -= len(f.text) + 1
		m.elided[f.step] += len(f.text) + 1
	}
}

func (m *model) close(step string) {
	if e := m.elided[step]; e > 0 {
		m.out = append(m.out, fmt.Sprintf("%s: [narwhal] %d bytes elided", step, e))
	}
	var kept []mline
	for _, l := range m.tail {
		if l.step != step {
			kept = append(kept, l)
			continue
		}
		m.out = append(m.out, step+": "+l.text)
		m.tailUsed += len(l.text) + 1
		m.size -= len(l.text) + 1
	}
	m.tail = kept
	m.shrink(m.tailCap - m.tailUsed)
}

func TestSinkMatchesModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		limit := []int{10, 40, 200, 1000, 300 << 10}[seed%5]
		lineMax := max(3, min(limit/8, 3000))
		runModel(t, seed, rng, limit, lineMax, 1)
	}
}

// TestSinkMatchesModelInBlocks is TestSinkMatchesModel with up to 40 lines a
// write (cut at a random byte into two writes), as a container's output
// comes, so that the writer takes its path for many lines at once; the
// larger limits give a tail budget above MaxLine, where the tail takes such
// a block at once.
func TestSinkMatchesModelInBlocks(t *testing.T) {
	t.Parallel()
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 11))
		limit := []int{10, 1000, 140 << 10, 300 << 10, 1 << 20}[seed%5]
		lineMax := max(3, min(limit/8, 8000))
		runModel(t, seed, rng, limit, lineMax, 40)
	}
}

// runModel writes random lines of up to lineMax bytes, up to perWrite lines
// at a time, to the Writers of up to 4 steps and compares what the Sink
// delivers with what the model does.
func runModel(t *testing.T, seed uint64, rng *rand.Rand, limit, lineMax, perWrite int) {
	var c collector
	s := New(int64(limit), nil, c.deliver)
	m := &model{headCap: limit / 2, tailCap: limit - limit/2, elided: map[string]int{}}
	writers := map[string]*Writer{}
	steps := 1 + rng.IntN(4)
	for i := range steps {
		writers[fmt.Sprint("s", i)] = s.Writer(fmt.Sprint("s", i))
	}
	for op := 0; len(writers) > 0; op++ {
		name := fmt.Sprint("s", rng.IntN(steps))
		w, open := writers[name]
		if !open {
			continue
		}
		if rng.IntN(40) == 0 || op > 4000/perWrite {
			w.Close()
			m.close(name)
			delete(writers, name)
			continue
		}
		var block strings.Builder
		for k := range 1 + rng.IntN(perWrite) {
			text := strings.Repeat(string(rune('a'+(op+k)%26)), 2+rng.IntN(lineMax))
			block.WriteString(text + "\n")
			m.put(name, text)
		}
		cut := rng.IntN(block.Len())
		w.Write([]byte(block.String()[:cut]))
		w.Write([]byte(block.String()[cut:]))
	}
	if got, want := strings.Join(c.take(), "\n"), strings.Join(m.out, "\n"); got != want {
		t.Fatalf("seed %d, limit %d: sink and model differ\nsink:\n%.2000s\nmodel:\n%.2000s", seed, limit, got, want)
	}
}
