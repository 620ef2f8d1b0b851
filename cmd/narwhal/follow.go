package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/console"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

const (
	// followPoll is how often followJob asks the API for news.
	followPoll = 500 * time.Millisecond
	// logGrace bounds how long followJob waits, once the job is final, for
	// its log to be complete: the log and the job's reports travel apart.
	logGrace = 10 * time.Second
)

// followJob prints the progress of job id to out through the REST API, the
// way the dashboard sees it: each status change, the log as it is written
// (rendered as `narwhal exec` renders it), and, once the job is final and
// its log complete, the step table and outcome. steps are the pipeline's
// step names, for aligned prefixes; nil is fine. It returns the final job.
func followJob(ctx context.Context, c *apiclient.Client, id string, steps []string, out io.Writer) (ci.Job, error) {
	con := console.New(out, steps)
	var last ci.Status
	var offset int64
	var finalSince time.Time
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return ci.Job{}, err
		}
		if j.Status != last && !j.Status.Final() {
			fmt.Fprintf(out, "job %s: %s%s\n", shortID(j.ID), j.Status, statusNote(j))
		}
		last = j.Status
		chunk, err := c.Logs(ctx, id, offset, false)
		if err != nil {
			return ci.Job{}, err
		}
		con.Log([]byte(chunk.Data))
		offset = chunk.Offset
		if j.Status.Final() && finalSince.IsZero() {
			finalSince = time.Now()
		}
		if !finalSince.IsZero() && (chunk.Complete || time.Since(finalSince) > logGrace) {
			con.Flush()
			con.Summary(console.JobRows(j), console.JobOutcome(j))
			return j, nil
		}
		if chunk.Data != "" {
			continue
		}
		select {
		case <-ctx.Done():
			return ci.Job{}, context.Cause(ctx)
		case <-time.After(followPoll):
		}
	}
}

// statusNote is what a status line adds: the runner, or why the job waits.
func statusNote(j ci.Job) string {
	switch {
	case j.RunnerID != "" && (j.Status == ci.StatusAssigned || j.Status == ci.StatusRunning):
		return " on " + j.RunnerID
	case j.Waiting != "":
		return " (" + j.Waiting + ")"
	}
	return ""
}

// pipelineSteps are the step names of dir's narwhal.yml, nil when it does
// not parse (the follower then aligns as it goes).
func pipelineSteps(dir string) []string {
	p, err := pipeline.ParseFile(filepath.Join(dir, "narwhal.yml"))
	if err != nil {
		return nil
	}
	return p.Names()
}

func shortID(id string) string { return id[:min(len(id), 10)] }
