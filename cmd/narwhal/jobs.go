package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/console"
	"github.com/narwhal-ci/narwhal/internal/store"
)

const apiFlagsHelp = `  --api URL         the REST API (default $NARWHAL_API): http://127.0.0.1:8080/api
                    for narwhal dev, https://abc123.execute-api.us-east-1.amazonaws.com
                    for a deployment
  --token TOKEN     the API's bearer token (default $NARWHAL_TOKEN)
`

const jobsHelp = `Usage: narwhal jobs [flags]

Lists jobs, newest first. Filters combine.

Flags:
  --repo OWNER/NAME  only this repository
  --status STATUS    only jobs in this state: queued, assigned, running, success,
                     failure, error or cancelled
  --branch BRANCH    only this branch
  --limit N          at most N jobs (default 20)
  --cursor CURSOR    continue a listing where the previous one stopped
  --json             print {"jobs": [...], "cursor": "..."} for scripts
` + apiFlagsHelp + `
Examples:
  narwhal jobs
  narwhal jobs --repo acme/app --status failure --limit 5
  narwhal jobs --branch main --json | jq -r '.jobs[].id'
`

// runJobs is `narwhal jobs`.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("jobs", jobsHelp, stderr)
	o := addAPIFlags(fs)
	var f ci.JobFilter
	var status string
	fs.StringVar(&f.Repo, "repo", "", "")
	fs.StringVar(&status, "status", "", "")
	fs.StringVar(&f.Branch, "branch", "", "")
	fs.IntVar(&f.Limit, "limit", 20, "")
	fs.StringVar(&f.Cursor, "cursor", "", "")
	asJSON := fs.Bool("json", false, "")
	if _, ok, err := parseCommand(fs, args, 0, jobsHelp, stderr); !ok {
		return err
	}
	if f.Limit < 1 {
		fmt.Fprintf(stderr, "narwhal jobs: --limit must be positive\n")
		return exitError(2)
	}
	f.Status = ci.Status(status)
	c, err := o.client("jobs", stderr)
	if err != nil {
		return err
	}
	page, err := listAll(ctx, c, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, page)
	}
	printJobs(stdout, page.Jobs, time.Now())
	if page.Cursor != "" {
		fmt.Fprintf(stderr, "(more: narwhal jobs --cursor %s)\n", page.Cursor)
	}
	return nil
}

// listAll fetches f.Limit jobs, in pages of at most store.MaxLimit.
func listAll(ctx context.Context, c *apiclient.Client, f ci.JobFilter) (ci.JobPage, error) {
	var all ci.JobPage
	want := f.Limit
	for {
		f.Limit = min(want-len(all.Jobs), store.MaxLimit)
		page, err := c.Jobs(ctx, f)
		if err != nil {
			return ci.JobPage{}, err
		}
		all.Jobs, all.Cursor = append(all.Jobs, page.Jobs...), page.Cursor
		if page.Cursor == "" || len(all.Jobs) >= want {
			return all, nil
		}
		f.Cursor = page.Cursor
	}
}

func printJobs(w io.Writer, jobs []ci.Job, now time.Time) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tREPO\tBRANCH\tCOMMIT\tCREATED\tDURATION")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, build(j), cmp.Or(j.Branch, "-"),
			shortSHA(j.SHA), relTime(j.CreatedAt, now), elapsed(j.StartedAt, j.FinishedAt, now))
	}
	tw.Flush()
}

const jobHelp = `Usage: narwhal job [flags] ID

ID is a job's whole ID, a unique prefix of it (at least 6 characters), or its
repository and build number, OWNER/NAME#N.

Shows one job: state, commit, runner, attempts, why it waits, its parent, its
steps, what each step did with its cache and the artifacts it left.

Flags:
  --json            print the job as JSON
` + apiFlagsHelp + `
Examples:
  narwhal job 3fa1c2d0e9b8a7f6e5d4
  narwhal job 3fa1c2d0e9b8a7f6e5d4 --json | jq .steps
`

// runJob is `narwhal job ID`.
func runJob(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("job", jobHelp, stderr)
	o := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "")
	pos, ok, err := parseCommand(fs, args, 1, jobHelp, stderr)
	if !ok {
		return err
	}
	c, err := o.client("job", stderr)
	if err != nil {
		return err
	}
	id, err := c.ResolveJob(ctx, pos[0])
	if err != nil {
		return err
	}
	j, err := c.JobView(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, j)
	}
	printJob(stdout, j, time.Now())
	return nil
}

// build is the job's repository and build number: acme/app #42.
func build(j ci.Job) string {
	if j.Number == 0 {
		return j.Repo
	}
	return fmt.Sprintf("%s #%d", j.Repo, j.Number)
}

// printJob writes the fields of j that are set, then its steps, then what
// they did with caches and the artifacts they left.
func printJob(w io.Writer, v api.JobView, now time.Time) {
	j := v.Job
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	status := fmt.Sprintf("%s (attempt %d)", j.Status, j.Attempt)
	commit := fmt.Sprintf("%s on %s (%s)", shortSHA(j.SHA), cmp.Or(j.Branch, j.Ref), j.Event)
	if j.PR > 0 {
		commit = fmt.Sprintf("%s, pull request #%d", commit, j.PR)
	}
	message, _, _ := strings.Cut(j.Message, "\n")
	for _, f := range [][2]string{{"job", j.ID}, {"status", status}, {"repo", build(j)}, {"commit", commit},
		{"message", message}, {"author", j.Author}, {"runner", j.RunnerID}, {"waiting", j.Waiting},
		{"parent", j.ParentID}, {"error", j.Error}, {"created", stamp(j.CreatedAt, now)},
		{"started", stamp(j.StartedAt, now)}, {"finished", stamp(j.FinishedAt, now)}} {
		if f[1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
		}
	}
	tw.Flush()
	if len(v.Steps) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tEXIT\tDURATION")
	for _, s := range v.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Status, console.Exit(string(s.Status), s.ExitCode), elapsed(s.StartedAt, s.FinishedAt, now))
	}
	tw.Flush()
	printStepStorage(w, v.Steps, now)
}

const logsHelp = `Usage: narwhal logs [flags] ID

ID is a job's whole ID, a unique prefix of it (at least 6 characters), or its
repository and build number, OWNER/NAME#N.

Prints the log of a job. With -f it keeps printing as the job writes more,
until the log is complete (the job ended), then prints how the job ended on
stderr and exits 1 unless it succeeded; Ctrl-C stops following.

Flags:
  -f, --follow      follow the log until it is complete
  --step NAME       only the lines of this step
` + apiFlagsHelp + `
Examples:
  narwhal logs 3fa1c2d0e9b8a7f6e5d4
  narwhal logs -f 3fa1c2d0e9b8a7f6e5d4
  narwhal logs 3fa1c2d0e9b8a7f6e5d4 | grep -n FAIL
  narwhal logs --step test 3fa1c2
`

// runLogs is `narwhal logs ID`.
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logs", logsHelp, stderr)
	o := addAPIFlags(fs)
	var follow bool
	var step string
	fs.BoolVar(&follow, "f", false, "")
	fs.BoolVar(&follow, "follow", false, "")
	fs.StringVar(&step, "step", "", "")
	pos, ok, err := parseCommand(fs, args, 1, logsHelp, stderr)
	if !ok {
		return err
	}
	c, err := o.client("logs", stderr)
	if err != nil {
		return err
	}
	id, err := c.ResolveJob(ctx, pos[0])
	if err != nil {
		return err
	}
	complete, err := copyLog(ctx, c, id, step, follow, stdout)
	if err != nil {
		return interrupted(ctx, err)
	}
	if !complete {
		fmt.Fprintf(stderr, "(the log continues: narwhal logs -f %s)\n", id)
		return nil
	}
	if !follow {
		return nil
	}
	return finalStatus(ctx, c, id, stderr)
}

// finalWait bounds how long a followed log waits, once complete, for its
// job's record to say how it ended (the report and the log travel apart).
const finalWait = 10 * time.Second

// finalStatus prints how job id ended, on stderr so that the log on stdout
// stays the log, and fails with exit status 1 unless it succeeded.
func finalStatus(ctx context.Context, c *apiclient.Client, id string, stderr io.Writer) error {
	deadline := time.Now().Add(finalWait)
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return interrupted(ctx, err)
		}
		if j.Status.Final() || time.Now().After(deadline) {
			return reportEnd(j, stderr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// reportEnd writes "job ID: STATUS" with its reason; any end but success is
// exit status 1.
func reportEnd(j ci.Job, stderr io.Writer) error {
	line := fmt.Sprintf("job %s: %s", j.ID, j.Status)
	if j.Error != "" {
		line += ": " + j.Error
	}
	fmt.Fprintln(stderr, line)
	if j.Status != ci.StatusSuccess {
		return exitError(1)
	}
	return nil
}

// copyLog writes the job's log to w from the start: what there is now, or,
// with follow, everything until the log is complete. The server long-polls,
// so an empty answer is asked again at once; one that came back quickly
// (a server that does not wait) is asked again after a second.
func copyLog(ctx context.Context, c *apiclient.Client, id, step string, follow bool, w io.Writer) (complete bool, err error) {
	var offset int64
	for {
		start := time.Now()
		chunk, err := c.StepLogs(ctx, id, step, offset, follow)
		if err != nil {
			return false, err
		}
		if _, err := io.WriteString(w, chunk.Data); err != nil {
			return false, err
		}
		offset = chunk.Offset
		switch {
		case chunk.Complete:
			return true, nil
		case chunk.Data != "":
			continue
		case !follow:
			return false, nil
		}
		if wait := time.Second - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

const resubmitHelp = `Usage: narwhal resubmit [flags] ID

ID is a job's whole ID, a unique prefix of it (at least 6 characters), or its
repository and build number, OWNER/NAME#N.

Runs a job's commit again as a new job (its parent is ID) and prints the new
job's ID. With --from-step, the new job re-runs ID from that step: the steps
before it that succeeded are not run again, and it starts from the workspace
they left (saved after each successful step; never for pull requests from
forks). When that workspace is not available it says so: re-run the whole
job instead.

Flags:
  --from-step STEP  re-run from this step
  --json            print the new job as JSON
` + apiFlagsHelp + `
Examples:
  narwhal resubmit 3fa1c2d0e9b8a7f6e5d4
  narwhal resubmit --from-step test 3fa1c2
  narwhal logs -f "$(narwhal resubmit --json 3fa1c2d0e9b8a7f6e5d4 | jq -r .id)"
`

// runResubmit is `narwhal resubmit [--from-step STEP] ID`.
func runResubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := func(fs *flag.FlagSet) action {
		from := fs.String("from-step", "", "")
		return func(c *apiclient.Client, ctx context.Context, id string) (ci.Job, error) {
			return c.ResubmitFrom(ctx, id, *from)
		}
	}
	return jobAction(ctx, "resubmit", resubmitHelp, args, stdout, stderr, flags, func(id string, j ci.Job) string {
		how := ""
		if j.Resume != nil {
			how = fmt.Sprintf(" from step %s (%d steps before it not run again)", j.Resume.From, len(j.Resume.Done))
		}
		return fmt.Sprintf("resubmitted %s as %s%s (%s)\nfollow it: narwhal logs -f %s", id, j.ID, how, j.Status, j.ID)
	})
}

const cancelHelp = `Usage: narwhal cancel [flags] ID

ID is a job's whole ID, a unique prefix of it (at least 6 characters), or its
repository and build number, OWNER/NAME#N.

Cancels a job that has not finished. Cancelling a finished job is an error
(409).

Flags:
  --json            print the job as JSON
` + apiFlagsHelp + `
Examples:
  narwhal cancel 3fa1c2d0e9b8a7f6e5d4
  narwhal jobs --status queued --json | jq -r '.jobs[].id' | xargs -n1 narwhal cancel
`

// runCancel is `narwhal cancel ID`.
func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := func(*flag.FlagSet) action { return (*apiclient.Client).Cancel }
	return jobAction(ctx, "cancel", cancelHelp, args, stdout, stderr, flags,
		func(id string, j ci.Job) string { return fmt.Sprintf("job %s is %s", j.ID, j.Status) })
}

// action posts an action on one job and returns the job it answers.
type action func(*apiclient.Client, context.Context, string) (ci.Job, error)

// jobAction runs a command that posts an action on one job and prints the
// job it answers: as JSON with --json, else as say puts it. flags defines
// the command's own flags and returns the action they shape.
func jobAction(ctx context.Context, name, help string, args []string, stdout, stderr io.Writer,
	flags func(*flag.FlagSet) action, say func(id string, j ci.Job) string) error {
	fs := newFlagSet(name, help, stderr)
	o := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "")
	do := flags(fs)
	pos, ok, err := parseCommand(fs, args, 1, help, stderr)
	if !ok {
		return err
	}
	c, err := o.client(name, stderr)
	if err != nil {
		return err
	}
	id, err := c.ResolveJob(ctx, pos[0])
	if err != nil {
		return err
	}
	j, err := do(c, ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, j)
	}
	_, err = fmt.Fprintln(stdout, say(id, j))
	return err
}
