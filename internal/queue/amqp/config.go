package amqp

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/narwhal-ci/narwhal/internal/queue"
)

// Config configures a Queue. Only URL is required.
type Config struct {
	// URL is the broker address, amqp://user:pass@host:port/vhost or amqps://.
	URL string
	// Prefix goes in front of every exchange and queue name ("" in
	// production). Tests give each queue its own prefix, hence its own
	// topology. Routing keys are not prefixed.
	Prefix string
	// DeliveryLimit is the x-delivery-limit of the work queues: a message is
	// dead-lettered once it was returned more than DeliveryLimit times, so it
	// is delivered at most DeliveryLimit+1 times. 0 means
	// queue.DefaultDeliveryLimit. Changing it on an existing broker fails the
	// topology declaration: queue arguments cannot change in place.
	DeliveryLimit int
	// ConnectionName is shown by the broker's management tools. Default "narwhal".
	ConnectionName string
	// BackoffMin and BackoffMax bound the exponential backoff between
	// reconnection attempts. Defaults 100ms and 5s.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout bounds one TCP connect and AMQP handshake. Default 5s.
	DialTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval, which bounds how long a dead
	// connection goes unnoticed. Default 10s.
	Heartbeat time.Duration
	// MaxInFlight bounds concurrent unconfirmed publishes on the connection.
	// Default 256.
	MaxInFlight int
}

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("amqp config: URL is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BackoffMin, 100*time.Millisecond)
	def(&c.BackoffMax, 5*time.Second)
	def(&c.DialTimeout, 5*time.Second)
	def(&c.Heartbeat, 10*time.Second)
	if c.DeliveryLimit <= 0 {
		c.DeliveryLimit = queue.DefaultDeliveryLimit
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 256
	}
	if c.ConnectionName == "" {
		c.ConnectionName = "narwhal"
	}
	return c, nil
}

// backoff is exponential backoff with jitter between min and max.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(c Config) *backoff { return &backoff{min: c.BackoffMin, max: c.BackoffMax} }

// next returns the wait before the next attempt and doubles it (up to max).
// The wait is jittered by up to a quarter so that clients reconnecting after
// a broker restart do not all arrive at once.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d - rand.N(d/4+1)
}

// reset starts over at min after a success.
func (b *backoff) reset() { b.cur = 0 }
