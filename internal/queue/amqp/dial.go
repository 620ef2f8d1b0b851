package amqp

import (
	"context"
	"log/slog"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Dialer returns how a process connects to the broker, for queue.NewLazy:
// each call connects with cfg within timeout. When secret is not nil, cfg.URL
// is built first from endpoint and the Amazon MQ secret that secret returns
// (see BrokerURL), read again on every connect so that a rotated secret is
// seen on the next one.
func Dialer(cfg Config, endpoint string, secret func(context.Context) (string, error), timeout time.Duration, log *slog.Logger) func(context.Context) (ci.Queue, error) {
	return func(ctx context.Context) (ci.Queue, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c := cfg
		if secret != nil {
			s, err := secret(ctx)
			if err != nil {
				return nil, err
			}
			if c.URL, err = BrokerURL(endpoint, s); err != nil {
				return nil, err
			}
		}
		return New(ctx, c, log)
	}
}
