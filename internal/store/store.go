// Package store holds what narwhal's Store implementations (internal/store/sqlite
// and internal/store/dynamo) share, so that both behave the same: the page-size
// rule, the sortable time key that orders jobs, the opaque list cursor, and the
// normalisation and validation a job or runner gets before it is written.
//
// It is pure: no I/O, no driver. The contract itself is ci.Store; the suite that
// checks it is internal/store/storetest; docs/store.md describes the layouts.
package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Page sizes of ListJobs and ListUnpublished.
const (
	DefaultLimit = 50  // a zero or negative limit means this
	MaxLimit     = 200 // larger limits are capped to this
)

// ErrBadCursor: a ListJobs cursor that no store produced (or a corrupted one).
var ErrBadCursor = errors.New("bad cursor")

// timeKeyLayout is fixed-width (nanoseconds always printed, always UTC), so
// that the lexical order of keys is the chronological order. RFC3339Nano is
// not: it trims trailing zeros, and ".1Z" sorts after ".12Z".
const timeKeyLayout = "2006-01-02T15:04:05.000000000Z"

// Limit applies the page-size rule: n <= 0 gives DefaultLimit, n > MaxLimit
// gives MaxLimit.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// TimeKey formats t as a fixed-width UTC string whose byte order is the time
// order, to nanosecond precision. t must lie in years 1..9999 (see CheckTime).
func TimeKey(t time.Time) string { return t.UTC().Format(timeKeyLayout) }

// SortKey is the position of a job in every listing: its creation time key,
// "#", its ID. Jobs sort by it (newest first = descending); the ID breaks ties
// between jobs created in the same nanosecond.
func SortKey(created time.Time, id string) string { return TimeKey(created) + "#" + id }

// encoding of cursors: URL- and query-safe, unpadded.
var encoding = base64.RawURLEncoding

// EncodeCursor makes the opaque cursor that continues a listing after the job
// at sortKey (a SortKey value).
func EncodeCursor(sortKey string) string { return encoding.EncodeToString([]byte(sortKey)) }

// DecodeCursor splits a cursor into the time key and the job ID of the job the
// listing continues after. Anything EncodeCursor did not make from a SortKey
// gives an error matching ErrBadCursor.
func DecodeCursor(cursor string) (timeKey, id string, err error) {
	raw, err := encoding.DecodeString(cursor)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	ts, id, ok := strings.Cut(string(raw), "#")
	if !ok || id == "" {
		return "", "", fmt.Errorf("%w: no job ID", ErrBadCursor)
	}
	if tm, err := time.Parse(timeKeyLayout, ts); err != nil || TimeKey(tm) != ts {
		return "", "", fmt.Errorf("%w: bad time key %q", ErrBadCursor, ts)
	}
	return ts, id, nil
}

// Unpublished reports whether the intake sweeper must (re)publish j: it is
// queued and the queue has not confirmed its message.
func Unpublished(j ci.Job) bool { return j.Status == ci.StatusQueued && !j.Published }

// RunnerExpired reports whether r's record is past its ExpiresAt at now. The
// stores hide expired runners, so that DynamoDB's lazy TTL deletion and the
// embedded store's lack of one look the same. A zero ExpiresAt never expires.
func RunnerExpired(r ci.Runner, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}
