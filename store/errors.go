package store

import "errors"

// ErrNotFound is returned by Get for an unknown id.
var ErrNotFound = errors.New("event not found")

// ErrInvalidCursor is returned by Query for a cursor it did not make (the
// query API answers 400).
var ErrInvalidCursor = errors.New("invalid cursor")

// rejectedError marks an error the database gave because of what was
// written (a constraint, a value it cannot hold, a schema that does not
// fit), as opposed to the database being unreachable or busy.
type rejectedError struct{ err error }

func (e rejectedError) Error() string { return e.err.Error() }
func (e rejectedError) Unwrap() error { return e.err }

// Rejected wraps err as a refusal that writing the same events again cannot
// fix. Engines wrap such errors from Insert; the store output turns them
// into output.Permanent.
func Rejected(err error) error {
	if err == nil {
		return nil
	}
	return rejectedError{err}
}

// IsRejected reports whether err, or an error it wraps, is Rejected.
func IsRejected(err error) bool {
	var r rejectedError
	return errors.As(err, &r)
}
