package amqp

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// hdrPublishID carries a per-connection publish sequence number so that a
// basic.return can be matched to the Publish call it answers. Consumers do not
// see it (headers starting with "x-" are the broker's and ours).
const hdrPublishID = "x-narwhal-publish-id"

// session is one AMQP connection, with the topology declared and a
// confirm-mode channel for publishing. It dies as a whole: when the
// connection or the publishing channel closes, dead is closed and the Queue
// dials a new session.
type session struct {
	conn *amqp091.Connection
	pub  *amqp091.Channel
	dead chan struct{}

	seq   atomic.Uint64
	slots chan struct{} // bounds unconfirmed publishes to the capacity of returns

	// returns receives basic.return frames. The library delivers a message's
	// return before its ack, so a Publish that has seen its ack drains
	// returns and finds its own there if the message was unroutable.
	returns  chan amqp091.Return
	mu       sync.Mutex
	returned map[string]amqp091.Return // drained returns by hdrPublishID
}

// dial connects, declares the topology and opens the publishing channel.
func dial(cfg Config, log *slog.Logger) (*session, error) {
	conn, err := amqp091.DialConfig(cfg.URL, amqp091.Config{
		Heartbeat:  cfg.Heartbeat,
		Locale:     "en_US",
		Dial:       amqp091.DefaultDial(cfg.DialTimeout),
		Properties: amqp091.Table{"connection_name": cfg.ConnectionName},
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s, err := open(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	go s.watch(log)
	return s, nil
}

func open(conn *amqp091.Connection, cfg Config) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := declare(ch, cfg); err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s := &session{conn: conn, pub: ch, dead: make(chan struct{}),
		slots:    make(chan struct{}, cfg.MaxInFlight),
		returns:  ch.NotifyReturn(make(chan amqp091.Return, cfg.MaxInFlight)),
		returned: map[string]amqp091.Return{}}
	return s, nil
}

// watch marks the session dead when the connection or the publishing channel
// closes, and closes the connection in the second case so that consumers on
// it move to the next session too.
func (s *session) watch(log *slog.Logger) {
	connClosed := s.conn.NotifyClose(make(chan *amqp091.Error, 1))
	chClosed := s.pub.NotifyClose(make(chan *amqp091.Error, 1))
	var reason *amqp091.Error
	select {
	case reason = <-connClosed:
	case reason = <-chClosed:
	}
	close(s.dead)
	s.conn.Close()
	if reason != nil {
		log.Warn("rabbitmq connection lost", "code", reason.Code, "reason", reason.Reason)
	}
}

// alive reports whether the session may still be used.
func (s *session) alive() bool {
	select {
	case <-s.dead:
		return false
	default:
		return !s.conn.IsClosed() && !s.pub.IsClosed()
	}
}

// close closes the connection; closing a closed one is not an error.
func (s *session) close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, amqp091.ErrClosed) {
		return fmt.Errorf("close rabbitmq connection: %w", err)
	}
	return nil
}

// takeReturn drains the returns received so far and reports whether the
// publish with the given ID was returned as unroutable.
func (s *session) takeReturn(id string) (amqp091.Return, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-s.returns:
			if !ok {
				drained = true
				break
			}
			if rid, isString := r.Headers[hdrPublishID].(string); isString {
				s.returned[rid] = r
			}
		default:
			drained = true
		}
	}
	r, ok := s.returned[id]
	delete(s.returned, id)
	return r, ok
}
