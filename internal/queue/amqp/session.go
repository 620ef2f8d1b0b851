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

// session is one AMQP connection, with the topology declared and a small pool
// of confirm-mode channels for publishing. It dies as a whole: when the
// connection or any publishing channel closes, dead is closed and the Queue
// dials a new session.
type session struct {
	conn *amqp091.Connection
	pubs []*pubChannel
	next atomic.Uint64 // round robin over pubs
	dead chan struct{}

	seq atomic.Uint64 // publish IDs (hdrPublishID), unique on the connection
}

// pubChannel is one confirm-mode channel of a session. Publishes on it
// pipeline: each waits for the confirm of its own delivery tag, never for
// another's. The broker runs each channel in a process of its own, so a few
// channels spread the confirm work of concurrent publishes over its cores.
type pubChannel struct {
	ch    *amqp091.Channel
	slots chan struct{} // bounds unconfirmed publishes to the capacity of returns

	// returns receives basic.return frames. The library delivers a message's
	// return before its ack, so a Publish that has seen its ack drains
	// returns and finds its own there if the message was unroutable.
	returns  chan amqp091.Return
	mu       sync.Mutex
	returned map[string]amqp091.Return // drained returns by hdrPublishID
}

// dial connects, declares the topology and opens the publishing channels.
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

// open declares the topology on a first channel, which becomes the first
// publishing channel, and opens the others.
func open(conn *amqp091.Connection, cfg Config) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := declare(ch, cfg); err != nil {
		return nil, err
	}
	s := &session{conn: conn, dead: make(chan struct{})}
	perChannel := max(1, cfg.MaxInFlight/cfg.PublishChannels)
	for i := range cfg.PublishChannels {
		if i > 0 {
			if ch, err = conn.Channel(); err != nil {
				return nil, fmt.Errorf("open publishing channel: %w", err)
			}
		}
		p, err := newPubChannel(ch, perChannel)
		if err != nil {
			return nil, err
		}
		s.pubs = append(s.pubs, p)
	}
	return s, nil
}

// newPubChannel puts ch in confirm mode with room for inFlight unconfirmed
// publishes.
func newPubChannel(ch *amqp091.Channel, inFlight int) (*pubChannel, error) {
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	return &pubChannel{ch: ch, slots: make(chan struct{}, inFlight),
		returns:  ch.NotifyReturn(make(chan amqp091.Return, inFlight)),
		returned: map[string]amqp091.Return{}}, nil
}

// pick returns the publishing channel for the next publish, in turn.
func (s *session) pick() *pubChannel {
	return s.pubs[(s.next.Add(1)-1)%uint64(len(s.pubs))]
}

// watch marks the session dead when the connection or a publishing channel
// closes, and closes the connection in the second case so that consumers on
// it move to the next session too.
func (s *session) watch(log *slog.Logger) {
	closed := make(chan *amqp091.Error, 1+len(s.pubs))
	forward := func(c chan *amqp091.Error) {
		if reason, ok := <-c; ok {
			closed <- reason
		} else {
			closed <- nil
		}
	}
	go forward(s.conn.NotifyClose(make(chan *amqp091.Error, 1)))
	for _, p := range s.pubs {
		go forward(p.ch.NotifyClose(make(chan *amqp091.Error, 1)))
	}
	reason := <-closed
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
		if s.conn.IsClosed() {
			return false
		}
		for _, p := range s.pubs {
			if p.ch.IsClosed() {
				return false
			}
		}
		return true
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
func (p *pubChannel) takeReturn(id string) (amqp091.Return, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-p.returns:
			if !ok {
				drained = true
				break
			}
			if rid, isString := r.Headers[hdrPublishID].(string); isString {
				p.returned[rid] = r
			}
		default:
			drained = true
		}
	}
	r, ok := p.returned[id]
	delete(p.returned, id)
	return r, ok
}
