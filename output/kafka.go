package output

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"gopkg.in/yaml.v3"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("kafka", Kind{FlagArg: "brokers", Open: openWithConfig(OpenKafka,
		func(c *KafkaConfig) *format.Format { return &c.Format })})
}

var _ Sink = (*Kafka)(nil)

// KafkaConfig configures a kafka output: the options of type: kafka.
//
//	outputs:
//	  - type: kafka
//	    brokers: [kafka-1:9092, kafka-2:9092]
//	    topic: audit
//	    sasl: {mechanism: scram-sha-512, username: auditproxy, password: secret}
//	    tls: {ca_file: /etc/ssl/kafka-ca.pem}
type KafkaConfig struct {
	// Brokers to bootstrap from, host:port each: a list, or one string
	// with commas (what the flag form kafka:host1:9092,host2:9092 gives).
	Brokers BrokerList `yaml:"brokers"`
	// Topic to produce to; "" = "audit.events". It must exist unless the
	// cluster creates topics on first use.
	Topic string `yaml:"topic"`
	// ClientID names the client in the brokers' logs and quotas; "" =
	// "auditproxy".
	ClientID string `yaml:"client_id"`
	// SASL authenticates to the brokers; nil = no authentication.
	SASL *KafkaSASL `yaml:"sasl"`
	// TLS connects to the brokers over TLS; nil = plaintext. tls: {}
	// verifies them against the system's roots.
	TLS *TLSConfig `yaml:"tls"`
	// Timeout bounds how long a record may wait for the cluster within one
	// Write (kgo's record delivery timeout); 0 = 30s, at least 1s. kgo
	// checks it between attempts, so Write may outlast it by a retry
	// backoff (a second or two), or by a produce request timeout (10s)
	// when a request is in flight: the idempotent producer cannot abandon
	// a request without breaking its sequence numbers. The context's
	// deadline works the same way.
	Timeout time.Duration `yaml:"timeout"`

	// Format encodes each record's value; nil = json.
	Format format.Format `yaml:"-"`
}

// KafkaSASL is the sasl: option of a kafka output. PLAIN sends the
// password as it is: use it over TLS.
type KafkaSASL struct {
	Mechanism string `yaml:"mechanism"` // plain, scram-sha-256 or scram-sha-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// BrokerList is a list of host:port, written in YAML as a list or as one
// string with commas.
type BrokerList []string

// UnmarshalYAML accepts a sequence or a comma-separated string.
func (b *BrokerList) UnmarshalYAML(n *yaml.Node) error {
	var list []string
	switch n.Kind {
	case yaml.ScalarNode:
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	case yaml.SequenceNode:
		if err := n.Decode(&list); err != nil {
			return err
		}
	default:
		return fmt.Errorf("line %d: brokers: want a list of host:port or one string with commas", n.Line)
	}
	*b = list
	return nil
}

// Kafka produces one record per event: key = event id (so that a
// compacted topic keeps one copy of a retried event, and consumers can
// deduplicate), value = the record in the configured format, headers
// content-type (the format's) and action. Records are spread over
// partitions by key: Kafka keeps order within a partition only, so
// consumers that need time order sort by the event's time.
//
// The producer is idempotent with acks=all: a record is acknowledged once
// every in-sync replica has it, and the producer's own retries (after a
// lost answer, say) do not duplicate it. Write produces the batch and
// waits for every acknowledgement.
type Kafka struct {
	client      *kgo.Client
	topic       string
	format      format.Format
	contentType []byte

	// mu lets Close wait for Writes in flight, so that their records are
	// answered rather than failed by the closing client.
	mu     sync.RWMutex
	closed bool
}

// defaultKafkaTopic is the topic when none is configured; the flag form
// sets only the brokers.
const defaultKafkaTopic = "audit.events"

// OpenKafka checks c and returns the sink. The client connects lazily: a
// cluster that is down at start costs retries, not the start.
func OpenKafka(c KafkaConfig) (*Kafka, error) {
	k := &Kafka{topic: c.Topic, format: c.Format}
	if k.topic == "" {
		k.topic = defaultKafkaTopic
	}
	if k.format == nil {
		k.format, _ = format.Get("json")
	}
	k.contentType = []byte(k.format.ContentType())
	if len(c.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers (want brokers: [host:9092, ...])")
	}
	if err := checkKafkaTopic(k.topic); err != nil {
		return nil, err
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = "auditproxy"
	}
	timeout := c.Timeout
	switch {
	case timeout == 0:
		timeout = 30 * time.Second
	case timeout < time.Second:
		return nil, fmt.Errorf("kafka: timeout %v: want at least 1s", timeout) // kgo's minimum
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(clientID),
		kgo.DefaultProduceTopic(k.topic),
		// Idempotent writes are kgo's default; they require acks=all.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(timeout),
		// After a retryable answer (NOT_ENOUGH_REPLICAS, a leader move) kgo
		// refreshes metadata before retrying, at most once per
		// MetadataMinAge, and checks the timeout only between attempts:
		// its default of 5s would let a Write overrun Timeout by as much.
		kgo.MetadataMinAge(time.Second),
	}
	if c.SASL != nil {
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	if c.TLS != nil {
		tc, err := c.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	k.client = client
	return k, nil
}

func (s *KafkaSASL) mechanism() (sasl.Mechanism, error) {
	if s.Username == "" {
		return nil, errors.New("kafka: sasl: no username")
	}
	switch strings.ToLower(s.Mechanism) {
	case "plain":
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka: sasl: mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.Mechanism)
}

// checkKafkaTopic applies Kafka's rule for topic names, so that a typo
// fails at start instead of as an error per record.
func checkKafkaTopic(t string) error {
	ok := len(t) <= 249 && t != "." && t != ".."
	for i := 0; ok && i < len(t); i++ {
		c := t[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("kafka: topic %q: want 1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'", t)
	}
	return nil
}

// Write produces one record per event and waits for the cluster to
// acknowledge all of them. Records the cluster did not take come back as
// *ItemErrors; see kafkaItemError for which are permanent.
func (k *Kafka) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to kafka topic %s: %w", k.topic, err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return fmt.Errorf("writing to kafka topic %s: %w", k.topic, ErrClosed)
	}

	// Keys and values share one buffer, sliced once it is complete.
	var buf []byte
	ends := make([]int, 2*len(events)) // end of each key, end of each value
	for i := range events {
		buf = append(buf, events[i].ID...)
		ends[2*i] = len(buf)
		buf = k.format.Append(buf, &events[i])
		ends[2*i+1] = len(buf)
	}
	recs := make([]kgo.Record, len(events))
	ptrs := make([]*kgo.Record, len(events))
	start := 0
	for i := range events {
		keyEnd, valEnd := ends[2*i], ends[2*i+1]
		recs[i] = kgo.Record{
			Key:   buf[start:keyEnd:keyEnd],
			Value: buf[keyEnd:valEnd:valEnd],
			Headers: []kgo.RecordHeader{
				{Key: "content-type", Value: k.contentType},
				{Key: "action", Value: []byte(events[i].Action)},
			},
		}
		ptrs[i] = &recs[i]
		start = valEnd
	}

	results := k.client.ProduceSync(ctx, ptrs...)
	if results.FirstErr() == nil {
		return nil
	}
	// Results come in the order of the acknowledgements, not of the batch.
	index := make(map[*kgo.Record]int, len(ptrs))
	for i, p := range ptrs {
		index[p] = i
	}
	failed := &ItemErrors{}
	for _, r := range results {
		if r.Err != nil {
			i := index[r.Record]
			failed.Items = append(failed.Items, ItemError{Index: i, Err: kafkaItemError(&events[i], r.Err)})
		}
	}
	slices.SortFunc(failed.Items, func(a, b ItemError) int { return cmp.Compare(a.Index, b.Index) })
	return fmt.Errorf("writing to kafka topic %s: %w", k.topic, failed)
}

// kafkaItemError classifies the error for one record. Permanent are the
// broker's answers about the record itself, which sending it again cannot
// change:
//
//   - MESSAGE_TOO_LARGE (also kgo's own answer for a record over the batch
//     limit, before sending) and RECORD_LIST_TOO_LARGE: the record is too
//     big for the broker's or topic's max.message.bytes;
//   - INVALID_RECORD: the broker's validation rejected it (e.g. a null key
//     on a compacted topic).
//
// Everything else is retryable: timeouts, lost connections, leader
// changes, NOT_ENOUGH_REPLICAS, and also authorisation and unknown-topic
// errors. Those are configuration mistakes that an operator fixes; the
// events wait in the buffer instead of going to the dead-letter file.
func kafkaItemError(ev *event.Event, err error) error {
	err = fmt.Errorf("event %s: %w", ev.ID, err)
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) || errors.Is(err, kerr.InvalidRecord) {
		return Permanent(err)
	}
	return err
}

// Close waits for Writes in flight and closes the client. Later Writes
// fail with ErrClosed; closing again does nothing.
func (k *Kafka) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.closed = true
		k.client.Close()
	}
	return nil
}
