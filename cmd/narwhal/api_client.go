package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Timeouts of API calls. A follow call outlasts the server's long poll.
const (
	apiTimeout    = 30 * time.Second
	followTimeout = api.DefaultFollowWait + 35*time.Second
)

// apiOpts are the flags every command that talks to the REST API shares.
type apiOpts struct {
	api, token string
}

// addAPIFlags defines --api and --token, defaulting to $NARWHAL_API and
// $NARWHAL_TOKEN.
func addAPIFlags(fs *flag.FlagSet) *apiOpts {
	o := &apiOpts{}
	fs.StringVar(&o.api, "api", os.Getenv("NARWHAL_API"), "")
	fs.StringVar(&o.token, "token", os.Getenv("NARWHAL_TOKEN"), "")
	return o
}

// client returns the API client the flags describe; without an address it
// explains what to set and fails with exit status 2.
func (o *apiOpts) client(cmd string, stderr io.Writer) (*apiClient, error) {
	if o.api == "" {
		fmt.Fprintf(stderr, "narwhal %s: no API address: set NARWHAL_API (e.g. export NARWHAL_API=http://127.0.0.1:8080) or pass --api URL\n", cmd)
		return nil, exitError(2)
	}
	base, err := url.Parse(o.api)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		fmt.Fprintf(stderr, "narwhal %s: API address %q: want http(s)://host[:port][/prefix]\n", cmd, o.api)
		return nil, exitError(2)
	}
	return &apiClient{base: base, token: o.token, hc: &http.Client{}}, nil
}

// apiClient is a small typed client of the REST API (docs/api.md).
type apiClient struct {
	base  *url.URL // may carry a path prefix, such as an API Gateway stage
	token string
	hc    *http.Client
}

// apiError is an error answer of the API: "404 job 3fa1 not found".
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// call sends method to the path made of segments (each escaped) with query q,
// and decodes a 2xx JSON answer into out.
func (c *apiClient) call(ctx context.Context, method string, q url.Values, timeout time.Duration, out any, segments ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.base.JoinPath(escapeAll(segments)...)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("API request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "narwhal-cli/"+version)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return c.errorOf(resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, u.Redacted(), err)
	}
	return nil
}

// escapeAll path-escapes each segment, so that an ID cannot add a level.
func escapeAll(segments []string) []string {
	out := make([]string, len(segments))
	for i, s := range segments {
		out[i] = url.PathEscape(s)
	}
	return out
}

// errorOf turns an error answer into an *apiError: our {"error": ...}, API
// Gateway's {"message": ...}, or the status text for anything else.
func (c *apiClient) errorOf(status int, body []byte) error {
	var e struct{ Error, Message string }
	json.Unmarshal(body, &e)
	msg := e.Error
	if msg == "" {
		msg = e.Message
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	if status == http.StatusUnauthorized && c.token == "" {
		msg += " (set NARWHAL_TOKEN or pass --token)"
	}
	return &apiError{Status: status, Message: msg}
}

func (c *apiClient) jobs(ctx context.Context, f ci.JobFilter) (ci.JobPage, error) {
	q := url.Values{}
	for name, v := range map[string]string{"repo": f.Repo, "status": string(f.Status), "branch": f.Branch, "cursor": f.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	var page ci.JobPage
	return page, c.call(ctx, http.MethodGet, q, apiTimeout, &page, "jobs")
}

func (c *apiClient) job(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	return j, c.call(ctx, http.MethodGet, nil, apiTimeout, &j, "jobs", id)
}

// logs reads the job's log from offset; with follow the server waits (up
// to about 25 s) for data.
func (c *apiClient) logs(ctx context.Context, id string, offset int64, follow bool) (api.LogChunk, error) {
	q, timeout := url.Values{"offset": {fmt.Sprint(offset)}}, apiTimeout
	if follow {
		q.Set("follow", "1")
		timeout = followTimeout
	}
	var chunk api.LogChunk
	return chunk, c.call(ctx, http.MethodGet, q, timeout, &chunk, "jobs", id, "logs")
}

func (c *apiClient) resubmit(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	return j, c.call(ctx, http.MethodPost, nil, apiTimeout, &j, "jobs", id, "resubmit")
}

func (c *apiClient) cancel(ctx context.Context, id string) (ci.Job, error) {
	var j ci.Job
	return j, c.call(ctx, http.MethodPost, nil, apiTimeout, &j, "jobs", id, "cancel")
}

func (c *apiClient) runners(ctx context.Context) ([]ci.Runner, error) {
	var list api.RunnerList
	return list.Runners, c.call(ctx, http.MethodGet, nil, apiTimeout, &list, "runners")
}

func (c *apiClient) drain(ctx context.Context, id string) (api.DrainBody, error) {
	var d api.DrainBody
	return d, c.call(ctx, http.MethodPost, nil, apiTimeout, &d, "runners", id, "drain")
}

// printJSON writes v as indented JSON, for --json.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// parseCommand parses flags and positional arguments in any order ("job ID
// --json" as well as "job --json ID") and checks that exactly want
// positionals were given. ok is false when the command must stop: after -h
// (err nil) or a usage error (err is exit status 2, already explained).
func parseCommand(fs *flag.FlagSet, args []string, want int, help string, stderr io.Writer) (pos []string, ok bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false, flagError(err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		problem := fmt.Sprintf("want %d argument(s), got %d", want, len(pos))
		if want == 0 {
			problem = fmt.Sprintf("unexpected argument %q", pos[0])
		}
		fmt.Fprintf(stderr, "narwhal %s: %s\n\n%s", fs.Name(), problem, help)
		return nil, false, exitError(2)
	}
	return pos, true, nil
}

// newFlagSet returns a flag set whose usage is help.
func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, help) }
	return fs
}

// interrupted turns the end of ctx (Ctrl-C) into exit status 130.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return exitError(130)
	}
	return err
}

// relTime says how long before now t was, for people: "just now", "42s ago",
// "3m ago", "5h ago", "2d ago"; "-" for a zero time.
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// stamp is a timestamp with its relative time, "" for a zero time.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format("2006-01-02 15:04:05 UTC"), relTime(t, now))
}

// elapsed is the duration from start to end, or to now while it runs: "-" when
// it has not started, "12s", "3m07s", "1h02m".
func elapsed(start, end, now time.Time) string {
	if start.IsZero() {
		return "-"
	}
	if end.IsZero() {
		end = now
	}
	d := end.Sub(start).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// shortSHA is the abbreviated commit SHA.
func shortSHA(sha string) string { return sha[:min(len(sha), 7)] }
