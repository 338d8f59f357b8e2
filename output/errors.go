package output

import (
	"errors"
	"fmt"
	"time"
)

// permanentError marks a failure that retrying cannot fix (a 400 for a
// malformed event, a rejected schema): delivery moves such events to the
// dead-letter file with the reason instead of retrying them forever.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, is Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// retryAfterError carries a destination's request to wait (HTTP 429/503
// Retry-After) before the next attempt.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string { return fmt.Sprintf("%v (retry after %v)", e.err, e.after) }
func (e retryAfterError) Unwrap() error { return e.err }

// RetryAfter wraps err with the wait the destination asked for.
func RetryAfter(err error, d time.Duration) error { return retryAfterError{err, d} }

// RetryAfterOf returns the wait err asks for, if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// ItemErrors is returned by a sink whose destination reports per event
// (Elasticsearch _bulk, Kafka per record): the events not listed were
// accepted; delivery retries the listed ones that are not Permanent and
// dead-letters the others.
type ItemErrors struct {
	Items []ItemError
}

// ItemError is one event of a batch that was not accepted.
type ItemError struct {
	Index int   // position in the batch given to Write
	Err   error // Permanent(...) when retrying cannot help
}

func (e *ItemErrors) Error() string {
	perm := 0
	for _, it := range e.Items {
		if IsPermanent(it.Err) {
			perm++
		}
	}
	first := ""
	if len(e.Items) > 0 {
		first = ": first: " + e.Items[0].Err.Error()
	}
	return fmt.Sprintf("%d events not accepted (%d permanently)%s", len(e.Items), perm, first)
}
