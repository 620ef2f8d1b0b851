package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// log writes the delivery's one line: info for success, warn for a rejected
// delivery, error when the webhook failed.
func (h *Handler) log(ctx context.Context, d ident, res result, err error, took time.Duration) {
	attrs := make([]slog.Attr, 0, 12) // the most a line has: it never grows
	attrs = append(attrs,
		slog.String("delivery", ci.Clip(d.id, 2*ci.MaxDeliveryID)), slog.String("event", d.event),
		slog.Int("status", res.status), slog.Duration("took", took))
	if res.job != nil {
		attrs = append(attrs, slog.String("job_id", res.job.ID), slog.String("repo", res.job.Repo), slog.String("sha", res.job.SHA))
	}
	if o := res.outcome; o != nil {
		attrs = append(attrs, slog.Bool("duplicate", o.Duplicate), slog.Bool("published", o.Published))
		if o.Problem != nil {
			attrs = append(attrs, slog.String("problem", o.Problem.Error()))
		}
	}
	if res.ignored != "" {
		attrs = append(attrs, slog.String("ignored", res.ignored))
	}
	level, msg := slog.LevelInfo, "webhook"
	switch {
	case res.status >= 500:
		level, msg = slog.LevelError, "webhook failed"
	case res.status >= 400:
		level, msg = slog.LevelWarn, "webhook rejected"
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	h.deps.Logger.LogAttrs(ctx, level, msg, attrs...)
}
