package webhook

// Error is a rejected delivery: the status to answer, the message the sender
// sees, and the cause for the log (which may say more than the sender sees).
type Error struct {
	Status int
	Msg    string
	Err    error // may be nil
}

func fail(status int, msg string, cause error) *Error {
	return &Error{Status: status, Msg: msg, Err: cause}
}

// Error returns the message and the cause: what the log line says.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
