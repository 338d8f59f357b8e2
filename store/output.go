package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

func init() {
	// A database takes one large transaction far better than many small
	// ones (docs/BENCHMARKS.md: 10,000 events per Insert ingest half again
	// as fast as 1,000 at a million stored), and the viewer can wait a
	// second for them.
	output.Register("store", output.Kind{Open: openOutput, FlagArg: "path", BatchEvents: 10_000, BatchWait: time.Second})
}

// outputOptions are the store output's own settings:
//
//	outputs:
//	  - type: store
//	    engine: sqlite            # or postgres; default sqlite
//	    path: /var/lib/auditproxy/events.db   # sqlite
//	    dsn: postgres://audit@db/audit        # postgres
//
// or --output store:/var/lib/auditproxy/events.db.
type outputOptions struct {
	Engine string `yaml:"engine"`
	Path   string `yaml:"path"`
	DSN    string `yaml:"dsn"`
}

// Output is the sink that keeps events in a Store.
type Output struct {
	Store Store
}

var _ output.Sink = (*Output)(nil)

func openOutput(spec output.Spec) (output.Sink, error) {
	var o outputOptions
	if err := spec.DecodeOptions(&o); err != nil {
		return nil, err
	}
	var location string
	switch o.Engine {
	case "", "sqlite":
		o.Engine, location = "sqlite", o.Path
		if o.Path == "" {
			return nil, errors.New("store output: engine sqlite needs path: (the database file)")
		}
		if o.DSN != "" {
			return nil, errors.New("store output: dsn: is for engine postgres; sqlite takes path:")
		}
	case "postgres":
		location = o.DSN
		if o.DSN == "" {
			return nil, errors.New("store output: engine postgres needs dsn: (e.g. postgres://user@host/db)")
		}
		if o.Path != "" {
			return nil, errors.New("store output: path: is for engine sqlite; postgres takes dsn:")
		}
	default:
		return nil, fmt.Errorf("store output: engine %q is not one of sqlite, postgres", o.Engine)
	}
	s, err := OpenEngine(context.Background(), o.Engine, location)
	if err != nil {
		return nil, err
	}
	return &Output{Store: s}, nil
}

// Write inserts the batch. A batch the database rejects is tried event by
// event, so that one event it cannot hold is dead-lettered alone
// (*output.ItemErrors) instead of taking the batch with it. Other errors
// (unreachable, busy, disk full) are returned as they are, for a retry.
func (o *Output) Write(ctx context.Context, events []event.Event) error {
	err := o.Store.Insert(ctx, events)
	if err == nil || !IsRejected(err) {
		return err
	}
	if len(events) == 1 {
		return output.Permanent(err)
	}
	var items output.ItemErrors
	for i := range events {
		err := o.Store.Insert(ctx, events[i:i+1])
		switch {
		case err == nil:
		case IsRejected(err):
			items.Items = append(items.Items, output.ItemError{Index: i, Err: output.Permanent(err)})
		default:
			items.Items = append(items.Items, output.ItemError{Index: i, Err: err})
		}
	}
	if len(items.Items) == 0 {
		return nil
	}
	return &items
}

// Close closes the store.
func (o *Output) Close() error { return o.Store.Close() }
