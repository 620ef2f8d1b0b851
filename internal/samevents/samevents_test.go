package samevents

import (
	"strconv"
	"strings"
	"testing"
)

// TestLoadEvents: every file of events/ is known, for the right function,
// the agent's first.
func TestLoadEvents(t *testing.T) {
	samples, err := Load("../../events")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ping.json": KindPing, "push.json": KindWebhook, "pull_request.json": KindWebhook,
		"mq-batch.json": KindMQ, "schedule.json": KindSchedule}
	seenDispatcher := false
	for _, s := range samples {
		if k, ok := want[s.Name]; ok && k != s.Kind {
			t.Errorf("%s is %s, want %s", s.Name, s.Kind, k)
		}
		if s.Function == Dispatcher {
			seenDispatcher = true
		} else if seenDispatcher {
			t.Errorf("%s (agent) comes after a dispatcher sample", s.Name)
		}
	}
	if len(samples) < len(want) {
		t.Errorf("%d samples, want at least %d", len(samples), len(want))
	}
	if _, _, err := classify([]byte(`{"hello":1}`)); err == nil {
		t.Error("an unknown shape was classified")
	}
}

func TestCheck(t *testing.T) {
	http := func(code int, body string) string {
		return `{"statusCode":` + strconv.Itoa(code) + `,"body":` + quote(body) + `}`
	}
	push, ping := Sample{Name: "push.json", Kind: KindWebhook}, Sample{Name: "ping.json", Kind: KindPing}
	mq, sched := Sample{Name: "mq.json", Kind: KindMQ}, Sample{Name: "s.json", Kind: KindSchedule}
	for _, c := range []struct {
		s      Sample
		answer string
		fail   string // "" when the answer is right
	}{
		{push, http(202, `{"job_id":"j","published":true}`), ""},
		{push, http(200, `{"job_id":"j","duplicate":true}`), ""},
		{push, http(202, `{"job_id":"j","published":false}`), "want 202"},
		{push, http(401, `{"error":"bad signature"}`), "status 401"},
		{push, `{"errorMessage":"boom","errorType":"errorString"}`, "function error"},
		{push, ``, "no answer"},
		{push, `Task timed out after 10.00 seconds`, "not JSON"},
		{ping, http(200, `{"pong":true}`), ""},
		{ping, http(202, `{"job_id":"j","published":true}`), "pong"},
		{mq, `null`, ""},
		{mq, `{"errorMessage":"job x: not found"}`, "function error"},
		{sched, `{"republished":0}`, ""},
		{sched, `null`, "monitor's report"},
	} {
		err := c.s.Check([]byte(c.answer))
		if c.fail == "" && err != nil || c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)) {
			t.Errorf("%s answered %s: %v, want failure %q", c.s.Name, c.answer, err, c.fail)
		}
	}
}

func quote(s string) string { return strconv.Quote(s) }
