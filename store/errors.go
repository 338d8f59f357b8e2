package store

import "errors"

// ErrNotFound is returned by Get for an unknown id.
var ErrNotFound = errors.New("event not found")
