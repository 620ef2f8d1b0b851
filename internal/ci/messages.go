package ci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The messages on the narwhal exchange, in one place: their routing keys,
// the bindings of the two queues, and how each body is encoded and decoded.
// docs/queue.md tells the story.
const (
	// RouteJob is the routing key of a job message (binds QueueJobs).
	RouteJob = "job"
	// RouteEvents is the routing-key prefix of runner reports: a report is
	// published with key RouteEvents + "." + its kind ("event.job").
	RouteEvents = "event"
	// BindEvents is the pattern binding QueueEvents: every RouteEvents key.
	BindEvents = RouteEvents + ".#"
)

// JobMessage is the body of a job message: the attempt of a job to run. The
// message carries only the ID; the Store holds the job.
type JobMessage struct {
	JobID   string `json:"job_id"`
	Attempt int    `json:"attempt"`
}

// NewJobMessage returns the queue message announcing attempt j.Attempt of j:
// key RouteJob, ID the job's ID.
func NewJobMessage(j Job) Message {
	body, _ := json.Marshal(JobMessage{JobID: j.ID, Attempt: j.Attempt}) // cannot fail
	return Message{Key: RouteJob, ID: j.ID, Body: body}
}

// ParseJobMessage decodes the body of a job message.
func ParseJobMessage(body []byte) (JobMessage, error) {
	var m JobMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("job message: %w", err)
	}
	if m.JobID == "" {
		return m, errors.New("job message: no job_id")
	}
	return m, nil
}

// NewEventMessage wraps a runner report in the queue message that carries
// it: key "event.<kind>", ID "<runner>-<boot>-<seq>" (unique across restarts
// of a runner, boot naming the process), the JSON report as body, and
// headers runner-id, kind and seq. The runner signs the body afterwards
// (internal/runnerkey).
func NewEventMessage(ev RunnerEvent, boot string) (Message, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s report: %w", ev.Kind, err)
	}
	seq := strconv.FormatUint(ev.Seq, 10)
	return Message{
		Key:     RouteEvents + "." + string(ev.Kind),
		ID:      ev.RunnerID + "-" + boot + "-" + seq,
		Body:    body,
		Headers: map[string]string{"runner-id": ev.RunnerID, "kind": string(ev.Kind), "seq": seq},
	}, nil
}

// ParseEvent decodes the body of a runner report; a report must name its
// runner.
func ParseEvent(body []byte) (RunnerEvent, error) {
	var ev RunnerEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("runner report: %w", err)
	}
	if ev.RunnerID == "" {
		return ev, errors.New("runner report: no runner_id")
	}
	return ev, nil
}
