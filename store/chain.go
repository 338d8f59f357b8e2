package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/event"
)

// ChainReader is a Store that can read its events in hash-chain order, for
// verifying the trail (auditproxy verify --store). Both engines implement
// it.
type ChainReader interface {
	// EachInChainOrder calls fn for every stored event in the order of
	// its stored seq (events of one seq, one per instance's chain, in an
	// order of the engine's choosing), with that seq, streaming from the
	// database in chunks so that memory stays flat and no read stays open
	// long. It stops at the first error fn returns, and returns it.
	EachInChainOrder(ctx context.Context, fn func(seq int64, ev *event.Event) error) error
}

// ChainChunk is how many events one query of EachInChainOrder reads; a
// variable for tests.
var ChainChunk = 10_000

// errStop ends a walk once the chain is broken.
var errStop = errors.New("stop")

// VerifyChain walks the store's events in chain order through w (see
// chain.Walk for what holds and what breaks). Unless w.PurgedBefore is
// set, it is the latest cut-off among the store's retention purge events.
func VerifyChain(ctx context.Context, s Store, w *chain.Walk) (chain.Report, error) {
	cr, ok := s.(ChainReader)
	if !ok {
		return chain.Report{}, fmt.Errorf("verifying the store: a %T cannot read events in chain order", s)
	}
	if w.PurgedBefore.IsZero() {
		err := s.Each(ctx, Filter{Actions: []string{chain.PurgeAction}}, func(ev *event.Event) error {
			if t, ok := chain.PurgeCutoff(ev); ok && t.After(w.PurgedBefore) {
				w.PurgedBefore = t
			}
			return nil
		})
		if err != nil {
			return chain.Report{}, fmt.Errorf("verifying the store: reading retention purges: %w", err)
		}
	}
	err := cr.EachInChainOrder(ctx, func(seq int64, ev *event.Event) error {
		if !w.Add(seq, ev) {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return chain.Report{}, fmt.Errorf("verifying the store: %w", err)
	}
	return w.Report(), nil
}
