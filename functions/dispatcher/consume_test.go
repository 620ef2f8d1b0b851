package main

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store/sqlite"
	"github.com/narwhal-ci/narwhal/internal/store/writeback"
)

// updatingCore applies each report as a status change of one job through
// the pass, as dispatch.HandleEvent does through its store; a body "fail"
// fails.
type updatingCore struct {
	fakeCore
	store ci.Store
}

func (u *updatingCore) HandleEvent(ctx context.Context, dl ci.Delivery) error {
	if string(dl.Body) == "fail" {
		return errors.New("bad report")
	}
	_, err := ci.Update(ctx, u.store, "job-1", func(j *ci.Job) error { j.Status = ci.Status(dl.Body); return nil })
	return err
}

var _ core = (*updatingCore)(nil)

// writes counts the job writes that reach the store.
type writes struct {
	ci.Store
	n int
}

func (w *writes) UpdateJob(ctx context.Context, j ci.Job) (ci.Job, error) {
	w.n++
	return w.Store.UpdateJob(ctx, j)
}

func reports(redelivered bool, bodies ...string) events.RabbitMQEvent {
	var msgs []events.RabbitMQMessage
	for _, b := range bodies {
		id := "m-" + b
		msgs = append(msgs, events.RabbitMQMessage{Data: base64.StdEncoding.EncodeToString([]byte(b)), Redelivered: redelivered,
			BasicProperties: events.RabbitMQBasicProperties{MessageID: &id}})
	}
	return events.RabbitMQEvent{EventSource: "aws:rmq", MessagesByQueue: map[string][]events.RabbitMQMessage{ci.QueueEvents + "::/": msgs}}
}

// A batch of reports seen for the first time writes the job once; a
// redelivered one message by message; a failed one not at all.
func TestReportsWrittenBack(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "narwhal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateJob(ctx, ci.Job{ID: "job-1", Repo: "acme/app", SHA: "0123456789abcdef0123456789abcdef01234567",
		Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	w := &writes{Store: st}
	pass := writeback.New(w)
	h := &handler{core: &updatingCore{store: pass}, prefix: "", pass: pass, log: slog.New(slog.DiscardHandler)}
	for _, tt := range []struct {
		name   string
		ev     events.RabbitMQEvent
		writes int
		status ci.Status
	}{
		{"first delivery", reports(false, "assigned", "running", "success"), 1, ci.StatusSuccess},
		{"redelivered", reports(true, "assigned", "running", "failure"), 3, ci.StatusFailure},
		{"failed", reports(false, "running", "fail"), 0, ci.StatusFailure},
	} {
		w.n = 0
		err := h.batch(ctx, tt.ev)
		j, _ := st.GetJob(ctx, "job-1")
		if (err != nil) != (tt.name == "failed") || w.n != tt.writes || j.Status != tt.status {
			t.Errorf("%s: %v, %d writes, job %s; want %d writes, %s", tt.name, err, w.n, j.Status, tt.writes, tt.status)
		}
	}
}
