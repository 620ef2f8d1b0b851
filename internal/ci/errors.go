package ci

import "errors"

// Sentinel errors shared by every Store and Queue implementation. Adapters
// wrap them (fmt.Errorf("...: %w", ErrNotFound)) so callers test with errors.Is.
var (
	// ErrNotFound: no job or runner with that ID.
	ErrNotFound = errors.New("not found")
	// ErrExists: a create found the ID taken (the job already exists).
	ErrExists = errors.New("already exists")
	// ErrConflict: a conditional update lost a race (the version moved on).
	ErrConflict = errors.New("conflict: changed concurrently")
	// ErrIllegalTransition: the state machine forbids the change.
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrClosed: the queue or store was closed.
	ErrClosed = errors.New("closed")
	// ErrTooLarge: the store refused a write because the record is over its
	// item size (DynamoDB's 400 KB); Update then ends the job (EndTooLarge).
	ErrTooLarge = errors.New("record too large for the store")
	// ErrBadDelivery: a delivery ID that CheckDeliveryID refuses.
	ErrBadDelivery = errors.New("bad delivery ID")
)
