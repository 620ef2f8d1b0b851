package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
)

// logLine gathers what the one log line of an invocation says.
type logLine struct {
	event, delivery string
	status          int
	ignored         string
	err             string
	job             *ci.Job
	outcome         *intake.Outcome
}

// log writes the invocation's line: info for success, warn for a rejected
// request, error when the agent failed.
func (h *Handler) log(ctx context.Context, l logLine, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("delivery", ci.Clip(l.delivery, 2*ci.MaxDeliveryID)), slog.String("event", l.event),
		slog.Int("status", l.status), slog.Duration("took", took),
	}
	if l.job != nil {
		attrs = append(attrs, slog.String("job_id", l.job.ID), slog.String("repo", l.job.Repo), slog.String("sha", l.job.SHA))
	}
	if l.outcome != nil {
		attrs = append(attrs, slog.Bool("duplicate", l.outcome.Duplicate), slog.Bool("published", l.outcome.Published))
		if l.outcome.Problem != nil {
			attrs = append(attrs, slog.String("problem", l.outcome.Problem.Error()))
		}
	}
	if l.ignored != "" {
		attrs = append(attrs, slog.String("ignored", l.ignored))
	}
	level, msg := slog.LevelInfo, "webhook"
	switch {
	case l.status >= 500:
		level, msg = slog.LevelError, "webhook failed"
	case l.status >= 400:
		level, msg = slog.LevelWarn, "webhook rejected"
	}
	if l.err != "" {
		attrs = append(attrs, slog.String("error", l.err))
	}
	h.deps.Logger.LogAttrs(ctx, level, msg, attrs...)
}
