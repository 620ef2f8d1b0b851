package mqbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker hands one batch to the function, the way the Lambda MQ event
// source invokes it synchronously. A nil error means the function handled
// the whole batch (the bridge acks it); any error means it did not (the
// bridge returns the whole batch to the queue). The bridge calls Invoke
// for one batch at a time; ctx ends when the bridge stops.
type Invoker interface {
	Invoke(ctx context.Context, ev events.RabbitMQEvent) error
}

// InvokerFunc calls a function in the same process (`narwhal dev`).
type InvokerFunc func(ctx context.Context, ev events.RabbitMQEvent) error

var _ Invoker = InvokerFunc(nil)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, ev events.RabbitMQEvent) error { return f(ctx, ev) }

// Endpoint is a Lambda Invoke API endpoint reached over plain HTTP without
// request signing: the runtime interface emulator
// (http://127.0.0.1:9000/2015-03-31/functions/function/invocations) or
// `sam local start-lambda`
// (http://127.0.0.1:3001/2015-03-31/functions/<Name>/invocations).
// It is safe for concurrent use, but the emulator is not: whoever invokes
// it concurrently must serialise the calls.
type Endpoint struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
}

var _ Invoker = (*Endpoint)(nil)

// Invoke posts ev and reports a function error, a timeout or a failed call
// as an error.
func (e *Endpoint) Invoke(ctx context.Context, ev events.RabbitMQEvent) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = e.Call(ctx, payload)
	return err
}

// FunctionError is an error the function returned (or a panic): the Invoke
// API's {"errorMessage", "errorType"} answer.
type FunctionError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error: %s: %s", e.Type, e.Message)
}

// TimeoutError is the emulator's answer to an invocation that outlived the
// function's timeout ("Task timed out after 3.00 seconds").
type TimeoutError struct{ Message string }

func (e *TimeoutError) Error() string { return "function timeout: " + e.Message }

// StatusError is a non-2xx answer of the endpoint, e.g. 502 from the
// emulator when the function failed to start.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("invoke answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// timeoutPrefix starts the emulator's plain-text answer to a timeout.
var timeoutPrefix = []byte("Task timed out after")

// Call posts payload and returns the function's response. A function error
// or panic is a *FunctionError (the emulator answers with an error body;
// sam local and Lambda add the X-Amz-Function-Error header), a timeout a
// *TimeoutError, another non-2xx answer (502 when the function did not
// start) a *StatusError; a failed request is returned as it is.
func (e *Endpoint) Call(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", e.URL, err)
	}
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", e.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read answer: %w", e.URL, err)
	}
	return body, answerError(resp, body)
}

// answerError classifies an answer of the Invoke API. The emulator answers
// a returned error with 200 and a panic (the runtime exits) with 502, both
// with the error in the body.
func answerError(resp *http.Response, body []byte) error {
	var fe FunctionError
	if json.Unmarshal(body, &fe) == nil && (fe.Message != "" || fe.Type != "") {
		return &fe
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	}
	if bytes.HasPrefix(body, timeoutPrefix) {
		return &TimeoutError{Message: string(body)}
	}
	if kind := resp.Header.Get("X-Amz-Function-Error"); kind != "" {
		return &FunctionError{Type: kind, Message: string(body)}
	}
	return nil
}

// IsFunctionError reports whether err is the function's own failure (an
// error, panic or timeout) rather than a failure to reach it.
func IsFunctionError(err error) bool {
	var fe *FunctionError
	var te *TimeoutError
	return errors.As(err, &fe) || errors.As(err, &te)
}
