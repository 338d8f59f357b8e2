package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Record writes an event made outside the rules (the activity log saying
// who read the trail) to every output, like any other event.
func (p *Pipeline) Record(ev event.Event) {
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	p.write([]event.Event{ev})
}

// Subscribe returns the events written from now on, until ctx ends; the
// channel is then closed. A subscriber that does not keep up misses
// events (the live view is a convenience; the trail is in the outputs).
func (p *Pipeline) Subscribe(ctx context.Context) <-chan event.Event {
	ch := make(chan event.Event, 256)
	p.live.add(ch)
	go func() {
		<-ctx.Done()
		p.live.remove(ch)
		close(ch)
	}()
	return ch
}

// fanout hands written events to live subscribers without ever blocking
// the pipeline.
type fanout struct {
	mu   sync.RWMutex
	subs map[chan event.Event]struct{}
}

func (f *fanout) add(ch chan event.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[chan event.Event]struct{}{}
	}
	f.subs[ch] = struct{}{}
}

func (f *fanout) remove(ch chan event.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, ch)
}

func (f *fanout) publish(evs []event.Event) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for ch := range f.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default: // slow subscriber: skip, never wait
			}
		}
	}
}
