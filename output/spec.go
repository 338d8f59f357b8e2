package output

import (
	"bytes"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is one output: an entry of the config file's outputs: list, or a
// --output flag. The settings every output shares are fields; whatever else
// the entry says belongs to its type and is decoded by it (DecodeOptions).
//
//	outputs:
//	  - type: http
//	    name: siem
//	    format: ecs
//	    buffer: {type: disk, max_bytes: 1GiB}
//	    retry: {initial: 1s, max: 1m}
//	    when_full: drop_oldest
//	    url: https://siem.example/ingest      # the http type's own options
type Spec struct {
	Name       string     `yaml:"name"`   // for logs and metrics; default: the type, numbered when repeated
	Type       string     `yaml:"type"`   // a registered kind: stdout, file, http, syslog, ...
	Format     string     `yaml:"format"` // json (default), ecs, ocsf, cef, cloudevents, text
	Buffer     BufferSpec `yaml:"buffer"`
	Retry      RetrySpec  `yaml:"retry"`
	WhenFull   WhenFull   `yaml:"when_full"`
	DeadLetter string     `yaml:"dead_letter"` // file for events the destination rejects for good; "" = next to the disk buffer
	Batch      BatchSpec  `yaml:"batch"`

	// Options are the type's own settings, as decoded YAML (from the
	// config file) or set by ParseFlag.
	Options map[string]any `yaml:"-"`
	// Line is where the entry starts in the config file, 0 for flags.
	Line int `yaml:"-"`
}

// BufferSpec says where events wait for their output.
type BufferSpec struct {
	// Type is "memory" (bounded, lost on a crash) or "disk" (an append-only
	// log, survives restarts). "" means disk for network outputs and memory
	// for stdout and files.
	Type     string        `yaml:"type"`
	Dir      string        `yaml:"dir"`        // disk: where the log lives; "" = <data dir>/buffer/<name>
	MaxBytes ByteSize      `yaml:"max_bytes"`  // disk: bound on the log's size; 0 = 1 GiB
	MaxAge   time.Duration `yaml:"max_age"`    // disk: older undelivered events count as lost; 0 = 7 days
	MaxCount int           `yaml:"max_events"` // memory: bound on waiting events; 0 = 100000
	Fsync    string        `yaml:"fsync"`      // disk: "interval" (default, every 200 ms) or "always"
}

// BatchSpec says how events are grouped into one write to the output.
type BatchSpec struct {
	// MaxWait is how long a batch of fewer than MaxEvents may wait for
	// more before it is sent: one request to a
	// collector per many events, at the cost of that much latency. nil:
	// 100 ms for collectors (or the kind's own: the store waits 1 s), none
	// for stdout and files; 0: never wait.
	MaxWait *time.Duration `yaml:"max_wait"`
	// MaxEvents is the most events one write takes. 0: 500, or the kind's
	// own (the store: 10,000).
	MaxEvents int `yaml:"max_events"`
}

// RetrySpec is the backoff between attempts: exponential with jitter,
// honouring a destination's Retry-After.
type RetrySpec struct {
	Initial     time.Duration `yaml:"initial"`      // 0 = 500 ms
	Max         time.Duration `yaml:"max"`          // 0 = 1 minute
	MaxAttempts int           `yaml:"max_attempts"` // 0 = retry until delivered (or the buffer's max_age)
}

// WhenFull is what happens when an output's buffer is full.
type WhenFull string

const (
	DropOldest WhenFull = "drop_oldest" // make room by dropping the oldest waiting events (the default)
	DropNewest WhenFull = "drop_newest" // drop the events that do not fit
	Block      WhenFull = "block"       // wait for room (the pipeline slows; requests never wait)
	FailClosed WhenFull = "fail_closed" // refuse critical requests with 503 until there is room
)

// UnmarshalYAML rejects unknown policies, with the line.
func (w *WhenFull) UnmarshalYAML(n *yaml.Node) error {
	switch WhenFull(n.Value) {
	case DropOldest, DropNewest, Block, FailClosed:
		*w = WhenFull(n.Value)
		return nil
	}
	return fmt.Errorf("line %d: when_full: %q is not one of drop_oldest, drop_newest, block, fail_closed", n.Line, n.Value)
}

// commonKeys are the Spec fields; every other key of an entry is an option.
var commonKeys = map[string]bool{"name": true, "type": true, "format": true, "buffer": true, "retry": true, "when_full": true, "dead_letter": true, "batch": true}

// UnmarshalYAML reads the shared settings strictly and keeps the rest as
// the type's options.
func (s *Spec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: an output is a mapping with at least type:", n.Line)
	}
	common := &yaml.Node{Kind: yaml.MappingNode}
	opts := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if commonKeys[n.Content[i].Value] {
			common.Content = append(common.Content, n.Content[i], n.Content[i+1])
		} else {
			opts.Content = append(opts.Content, n.Content[i], n.Content[i+1])
		}
	}
	type plain Spec // without this method
	var p plain
	if err := decodeStrict(common, &p); err != nil {
		return err
	}
	if err := opts.Decode(&p.Options); err != nil {
		return err
	}
	*s = Spec(p)
	s.Line = n.Line
	if s.Type == "" {
		return fmt.Errorf("line %d: output without type: (one of %v)", n.Line, Kinds())
	}
	return nil
}

// DecodeOptions decodes the type's own options into v (a pointer to the
// type's config struct, with yaml tags), rejecting unknown keys.
func (s Spec) DecodeOptions(v any) error {
	var n yaml.Node
	if err := n.Encode(s.Options); err != nil {
		return err
	}
	if err := decodeStrict(&n, v); err != nil {
		return fmt.Errorf("output %q (line %d): %w", s.Name, s.Line, err)
	}
	return nil
}

func decodeStrict(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		return err
	}
	return nil
}

// ByteSize reads sizes like 1GiB, 512MiB, 100MB or a plain byte count.
type ByteSize int64

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// ParseByteSize reads 1GiB, 512MiB, 64KiB, 100MB, 10kB or 12345.
func ParseByteSize(s string) (ByteSize, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if len(s) > len(u.suffix) && s[len(s)-len(u.suffix):] == u.suffix {
			num, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != num {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KiB, MiB, GiB, kB, MB, GB)", s)
	}
	return ByteSize(n * mult), nil
}
