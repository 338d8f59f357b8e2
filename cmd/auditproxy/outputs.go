package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/admin"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/output/delivery"
	"github.com/auditproxy/auditproxy/pipeline"
)

// openOutputs builds every configured output: its sink, and in front of it
// a delivery queue (memory for stdout and files, disk for collectors,
// unless the spec says otherwise) that reports every loss to losses. The
// stdout output writes to stdout. On error, what was opened is closed.
func openOutputs(cfg config, stdout io.Writer, losses *pipeline.Losses, log zerolog.Logger) ([]pipeline.Output, []*delivery.Queue, error) {
	var outs []pipeline.Output
	var queues []*delivery.Queue
	closeAll := func() {
		for _, q := range queues {
			q.Close(context.Background())
		}
	}
	for _, spec := range cfg.Outputs.named() {
		var sink output.Sink
		var err error
		if spec.Type == "stdout" {
			sink, err = output.OpenStdout(stdout, spec)
		} else {
			sink, err = output.OpenSpec(spec)
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		olog := log.With().Str("output", spec.Name).Logger()
		if l, ok := sink.(interface{ SetLogger(zerolog.Logger) }); ok {
			l.SetLogger(olog)
		}
		if spec.Buffer.Type == "" {
			spec.Buffer.Type = "disk"
			if output.IsLocal(spec.Type) {
				spec.Buffer.Type = "memory"
			}
		}
		q, err := delivery.New(spec, sink, delivery.Options{
			DataDir: cfg.DataDir,
			Logger:  log, // delivery names the output itself
			OnLoss: func(l delivery.Loss) {
				losses.Report(l.Output, l.Count, l.Reason, l.First, l.Last)
			},
		})
		if err != nil {
			sink.Close()
			closeAll()
			return nil, nil, fmt.Errorf("output %q: %w", spec.Name, err)
		}
		queues = append(queues, q)
		outs = append(outs, pipeline.Output{Name: spec.Name, Queue: q, Durable: spec.Buffer.Type == "disk"})
	}
	return outs, queues, nil
}

// snapshots reads the queues' numbers for the admin listener.
func snapshots(outs []pipeline.Output, queues []*delivery.Queue) func() []admin.OutputSnapshot {
	return func() []admin.OutputSnapshot {
		snaps := make([]admin.OutputSnapshot, len(queues))
		for i, q := range queues {
			st := q.Stats()
			snaps[i] = admin.OutputSnapshot{
				Name: outs[i].Name, Depth: int64(st.Depth), BytesOnDisk: st.BytesOnDisk,
				Delivered: st.Delivered, Retried: st.Retried, Dropped: st.Dropped, DeadLettered: st.DeadLettered,
				OldestUndelivered: st.OldestUndelivered,
				Healthy:           st.LastError == "" || st.Depth == 0,
			}
		}
		return snaps
	}
}

// needsDurable says why the rules cannot run with these outputs: a rule
// with delivery: critical needs an output with a disk buffer.
func needsDurable(rulesCritical []string, outs []pipeline.Output) error {
	if len(rulesCritical) == 0 {
		return nil
	}
	for _, o := range outs {
		if o.Durable {
			return nil
		}
	}
	return fmt.Errorf("rule %q has delivery: critical, but no output has a disk buffer to hold its events (give one output buffer: {type: disk})", rulesCritical[0])
}
