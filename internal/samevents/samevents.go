// Package samevents knows the sample events of events/: which function of
// template.yaml each is for, and what a correct answer to it looks like. The
// container test of internal/lambdatest and `make sam-local` (through
// samcheck) judge answers by it, by their content: `sam local invoke` exits
// 0 also when the function failed or never answered.
package samevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The functions of template.yaml the samples are for.
const (
	Agent      = "AgentFunction"
	Dispatcher = "DispatcherFunction"
)

// Kinds of sample, told apart by their content.
const (
	KindWebhook  = "webhook"  // an HTTP API request to POST /webhook (not a ping)
	KindPing     = "ping"     // GitHub's ping, to the webhook
	KindMQ       = "mq"       // an Amazon MQ (RabbitMQ) batch
	KindSchedule = "schedule" // the EventBridge schedule (the monitor)
	KindAPI      = "api"      // an HTTP API request to the REST API
)

// Sample is one file of events/.
type Sample struct {
	Name     string // file name, "push.json"
	Path     string
	Function string // Agent or Dispatcher
	Kind     string
	Payload  []byte
}

// Load reads every *.json of dir in the order they are to be invoked: the
// agent's first (so that the job of push.json exists when mq-batch.json
// names it), then the dispatcher's, by name within each. A file of an
// unknown shape is an error: a new sample needs its expectation here.
func Load(dir string) ([]Sample, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("samevents: no *.json in %s (%v)", dir, err)
	}
	var out []Sample
	for _, p := range paths {
		s, err := load(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function == Agent
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func load(path string) (Sample, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Sample{}, fmt.Errorf("samevents: %w", err)
	}
	s := Sample{Name: filepath.Base(path), Path: path, Payload: raw}
	s.Function, s.Kind, err = classify(raw)
	if err != nil {
		return Sample{}, fmt.Errorf("samevents: %s: %w", path, err)
	}
	return s, nil
}

// classify tells the function and kind of an event by its fields.
func classify(raw []byte) (function, kind string, err error) {
	var ev struct {
		Version     string            `json:"version"`
		RawPath     string            `json:"rawPath"`
		Headers     map[string]string `json:"headers"`
		EventSource string            `json:"eventSource"`
		Source      string            `json:"source"`
		DetailType  string            `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return "", "", err
	}
	switch {
	case ev.Version == "2.0" && ev.RawPath == "/webhook" && ev.Headers["x-github-event"] == "ping":
		return Agent, KindPing, nil
	case ev.Version == "2.0" && ev.RawPath == "/webhook":
		return Agent, KindWebhook, nil
	case ev.Version == "2.0" && ev.RawPath != "":
		return Dispatcher, KindAPI, nil
	case ev.EventSource == "aws:rmq":
		return Dispatcher, KindMQ, nil
	case ev.Source == "aws.events" && ev.DetailType == "Scheduled Event":
		return Dispatcher, KindSchedule, nil
	}
	return "", "", fmt.Errorf("unknown event shape: teach samevents what answers it")
}

// Check judges the function's answer to s (the body the Invoke API
// returned, what `sam local invoke` prints on stdout). A webhook push or
// pull request must be accepted (202, published, a job ID) or, when the
// sample was sent before, be a duplicate of that job (200); a ping answers
// 200 pong; an MQ batch answers null; the schedule answers the monitor's
// report; a REST call anything below 500. Function errors, timeouts and
// empty answers fail.
func (s Sample) Check(answer []byte) error {
	answer = bytes.TrimSpace(answer)
	if err := functionError(answer); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	var err error
	switch s.Kind {
	case KindWebhook, KindPing, KindAPI:
		err = s.checkHTTP(answer)
	case KindMQ:
		if string(answer) != "null" {
			err = fmt.Errorf("answer %s, want null (the batch handled)", answer)
		}
	case KindSchedule:
		var report map[string]any
		if json.Unmarshal(answer, &report) != nil || report == nil {
			err = fmt.Errorf("answer %s, want the monitor's report (a JSON object)", answer)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// functionError recognises what the emulator answers when there is no
// result: nothing, a timeout's text, or {"errorMessage","errorType"}.
func functionError(answer []byte) error {
	if len(answer) == 0 {
		return fmt.Errorf("no answer (did the function start? is the architecture right?)")
	}
	if !json.Valid(answer) {
		return fmt.Errorf("answer is not JSON: %.200s", answer)
	}
	var fe struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(answer, &fe) == nil && (fe.Message != "" || fe.Type != "") {
		return fmt.Errorf("function error %s: %s", fe.Type, fe.Message)
	}
	return nil
}

// checkHTTP judges an API Gateway (payload 2.0) response.
func (s Sample) checkHTTP(answer []byte) error {
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	var body map[string]any
	if err := json.Unmarshal(answer, &resp); err != nil || resp.StatusCode == 0 {
		return fmt.Errorf("not an HTTP API response: %.200s", answer)
	}
	if s.Kind == KindAPI {
		if resp.StatusCode >= 500 {
			return fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
		}
		return nil
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		return fmt.Errorf("status %d, body not JSON: %.200s", resp.StatusCode, resp.Body)
	}
	return webhookAnswer(s.Kind, resp.StatusCode, body)
}

func webhookAnswer(kind string, code int, body map[string]any) error {
	id, _ := body["job_id"].(string)
	switch {
	case kind == KindPing && code == 200 && body["pong"] == true:
		return nil
	case kind == KindWebhook && code == 202 && body["published"] == true && id != "":
		return nil
	case kind == KindWebhook && code == 200 && body["duplicate"] == true && id != "":
		return nil
	}
	want := "202 with published and job_id (or 200 duplicate)"
	if kind == KindPing {
		want = `200 {"pong":true}`
	}
	return fmt.Errorf("status %d %v, want %s", code, compact(body), want)
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
