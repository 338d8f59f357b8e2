package pipeline

import (
	"time"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/event"
)

// checkpointer writes signed checkpoints into the trail (see package
// chain): every interval, with or without traffic, and one as the last
// event of Close.
type checkpointer struct {
	signer *chain.Signer
	every  time.Duration
	stop   chan struct{}
	done   chan struct{}
}

// startCheckpoints starts writing checkpoints when cfg has a signer.
func (p *Pipeline) startCheckpoints(cfg Config) {
	if cfg.Signer == nil {
		return
	}
	c := &checkpointer{signer: cfg.Signer, every: cmpOr(cfg.CheckpointEvery, time.Minute),
		stop: make(chan struct{}), done: make(chan struct{})}
	p.checkpoints = c
	go func() {
		defer close(c.done)
		tick := time.NewTicker(c.every)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				p.checkpoint(chain.CheckpointPeriodic)
			}
		}
	}()
}

// stopCheckpoints stops the periodic checkpoints and writes the shutdown
// checkpoint. Close calls it once every other event is handed over.
func (p *Pipeline) stopCheckpoints() {
	if p.checkpoints == nil {
		return
	}
	close(p.checkpoints.stop)
	<-p.checkpoints.done
	p.checkpoint(chain.CheckpointShutdown)
}

// checkpoint seals, signs and hands over one checkpoint, as write does
// with other events.
func (p *Pipeline) checkpoint(kind string) {
	c := p.checkpoints
	ev := c.signer.Checkpoint(time.Now(), kind, c.every)
	p.enricher.Enrich(&ev, &event.Exchange{Start: ev.Time})
	evs := []event.Event{ev}
	p.writeMu.Lock()
	if err := p.chain.SealSigned(evs, c.signer); err != nil {
		p.writeMu.Unlock()
		p.log.Error().Err(err).Msg("hash chain: checkpoint not written")
		return
	}
	for _, o := range p.outputs {
		p.enqueue(o, evs)
	}
	p.live.publish(evs)
	p.writeMu.Unlock()
}
