package output

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/internal/testserver"
	"github.com/auditproxy/auditproxy/output/format"
)

const kafkaTestTopic = "audit"

// newKafkaCluster starts an in-process cluster with the test topic.
func newKafkaCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, kafkaTestTopic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func openTestKafka(t testing.TB, c KafkaConfig) *Kafka {
	t.Helper()
	if c.Topic == "" {
		c.Topic = kafkaTestTopic
	}
	k, err := OpenKafka(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// consumeKafka reads n records from the start of the test topic, failing
// after 10 s.
func consumeKafka(t *testing.T, brokers []string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(kafkaTestTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records in 10s, want %d", len(recs), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consuming %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return "<none>"
}

func TestKafkaProduceAndConsume(t *testing.T) {
	cluster := newKafkaCluster(t, 1) // one partition: one order
	k := openTestKafka(t, KafkaConfig{Brokers: cluster.ListenAddrs()})
	evs := append(batch("kafka", 200), nastyEvent(), eventtest.Minimal())
	ctx := context.Background()
	if err := k.Write(ctx, evs[:100]); err != nil {
		t.Fatal(err)
	}
	if err := k.Write(ctx, evs[100:]); err != nil {
		t.Fatal(err)
	}
	recs := consumeKafka(t, cluster.ListenAddrs(), len(evs))
	if len(recs) != len(evs) {
		t.Fatalf("%d records, want %d", len(recs), len(evs))
	}
	json, _ := format.Get("json")
	for i, r := range recs {
		ev := &evs[i]
		if string(r.Key) != ev.ID {
			t.Fatalf("record %d: key %q, want %q (order kept?)", i, r.Key, ev.ID)
		}
		if want := json.Append(nil, ev); string(r.Value) != string(want) {
			t.Errorf("record %d: value\n got %s\nwant %s", i, r.Value, want)
		}
		if got := header(r, "content-type"); got != "application/json" {
			t.Errorf("record %d: content-type %q", i, got)
		}
		if got := header(r, "action"); got != ev.Action {
			t.Errorf("record %d: action header %q, want %q", i, got, ev.Action)
		}
		if len(r.Headers) != 2 {
			t.Errorf("record %d: headers %v, want content-type and action", i, r.Headers)
		}
	}
}

func TestKafkaIdempotentAllAcks(t *testing.T) {
	cluster := newKafkaCluster(t, 1)
	var (
		mu          sync.Mutex
		acks        []int16
		producerIDs []int64
	)
	// Watch the produce requests on the wire; the cluster still answers.
	cluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		acks = append(acks, req.Acks)
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				var b kmsg.RecordBatch
				if err := b.ReadFrom(rp.Records); err == nil {
					producerIDs = append(producerIDs, b.ProducerID)
				}
			}
		}
		return nil, nil, false
	})
	k := openTestKafka(t, KafkaConfig{Brokers: cluster.ListenAddrs()})
	if err := k.Write(context.Background(), batch("idem", 10)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acks) == 0 {
		t.Fatal("no produce request seen")
	}
	for i := range acks {
		if acks[i] != -1 {
			t.Errorf("produce request with acks=%d, want -1 (all in-sync replicas)", acks[i])
		}
	}
	for _, id := range producerIDs {
		if id < 0 {
			t.Errorf("batch with producer id %d: not idempotent", id)
		}
	}
}

func TestKafkaItemErrors(t *testing.T) {
	cluster := newKafkaCluster(t, 2)
	k := openTestKafka(t, KafkaConfig{Brokers: cluster.ListenAddrs(), Timeout: time.Second})
	ctx := context.Background()

	// The broker refuses everything for partition 1 as too large: those
	// events, and only those, are permanent failures; partition 0's are in.
	h := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafkaTestTopic, Partitions: []int32{1}, Err: kerr.MessageTooLarge, Count: -1})
	evs := batch("split", 40)
	err := k.Write(ctx, evs)
	h.Remove()
	var items *ItemErrors
	if !errors.As(err, &items) {
		t.Fatalf("Write: %v, want *ItemErrors", err)
	}
	failed := map[string]bool{}
	for _, it := range items.Items {
		if !IsPermanent(it.Err) || !errors.Is(it.Err, kerr.MessageTooLarge) || !strings.Contains(it.Err.Error(), evs[it.Index].ID) {
			t.Errorf("item %d: %v, want a permanent MESSAGE_TOO_LARGE naming the event", it.Index, it.Err)
		}
		failed[evs[it.Index].ID] = true
	}
	if !slices.IsSortedFunc(items.Items, func(a, b ItemError) int { return a.Index - b.Index }) {
		t.Errorf("items not in batch order: %v", items.Items)
	}
	stored := consumeKafka(t, cluster.ListenAddrs(), len(evs)-len(failed))
	for _, r := range stored {
		if r.Partition != 0 || failed[string(r.Key)] {
			t.Errorf("stored %s on partition %d (failed: %v)", r.Key, r.Partition, failed[string(r.Key)])
		}
	}
	if len(failed) == 0 || len(stored) == 0 || len(failed)+len(stored) != len(evs) {
		t.Errorf("%d failed + %d stored, want a split of %d", len(failed), len(stored), len(evs))
	}

	// Refusals that an operator can fix, and lasting unavailability, are
	// retryable: the events wait for the next attempt.
	for _, kerrErr := range []*kerr.Error{kerr.TopicAuthorizationFailed, kerr.NotEnoughReplicas} {
		h := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafkaTestTopic, Err: kerrErr, Count: -1})
		start := time.Now()
		err := k.Write(ctx, batch("refused", 5))
		h.Remove()
		if !errors.As(err, &items) || len(items.Items) != 5 {
			t.Errorf("%s: Write: %v, want 5 item errors", kerrErr.Message, err)
			continue
		}
		for _, it := range items.Items {
			if IsPermanent(it.Err) {
				t.Errorf("%s: item %d permanent: %v", kerrErr.Message, it.Index, it.Err)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Write took %v with a 1s timeout", kerrErr.Message, d)
		}
	}

	// A record over the producer's batch limit never leaves: kgo answers
	// MESSAGE_TOO_LARGE itself. Its neighbours go through.
	big := eventtest.Full()
	big.ID, big.Description = "big", strings.Repeat("x", 2<<20)
	mixed := append(batch("around", 2), big)
	err = k.Write(ctx, mixed)
	if !errors.As(err, &items) || len(items.Items) != 1 || items.Items[0].Index != 2 || !IsPermanent(items.Items[0].Err) {
		t.Errorf("Write with a 2 MB event: %v, want one permanent item error at index 2", err)
	}

	// Back to normal: everything goes through.
	if err := k.Write(ctx, batch("after", 5)); err != nil {
		t.Errorf("Write after the faults: %v", err)
	}
}

func TestKafkaBrokerDown(t *testing.T) {
	cluster := newKafkaCluster(t, 1)
	addrs := cluster.ListenAddrs()
	k := openTestKafka(t, KafkaConfig{Brokers: addrs, Timeout: time.Second})
	cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := k.Write(ctx, batch("down", 3))
	var items *ItemErrors
	if !errors.As(err, &items) || len(items.Items) != 3 || IsPermanent(items.Items[0].Err) {
		t.Fatalf("Write with the cluster down: %v, want 3 retryable item errors", err)
	}
}

func TestKafkaSASLOverTLS(t *testing.T) {
	certs := testserver.NewCerts(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cluster := newKafkaCluster(t, 1, kfake.EnableSASL(), kfake.Superuser(mech, "auditproxy", "s3cret"), kfake.TLS(certs.Server))
			sink, err := OpenSpec(Spec{Name: "k", Type: "kafka", Options: map[string]any{
				"brokers": strings.Join(cluster.ListenAddrs(), ","),
				"topic":   kafkaTestTopic,
				"sasl":    map[string]any{"mechanism": strings.ToLower(mech), "username": "auditproxy", "password": "s3cret"},
				"tls":     map[string]any{"ca_file": certs.CAFile},
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			if err := sink.Write(context.Background(), batch("sasl", 3)); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A wrong password is a configuration mistake: retryable, and quick.
	cluster := newKafkaCluster(t, 1, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "auditproxy", "s3cret"))
	k := openTestKafka(t, KafkaConfig{Brokers: cluster.ListenAddrs(), Timeout: time.Second,
		SASL: &KafkaSASL{Mechanism: "scram-sha-256", Username: "auditproxy", Password: "wrong"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := k.Write(ctx, batch("denied", 2))
	if err == nil || IsPermanent(err) {
		t.Fatalf("Write with a wrong password: %v, want a retryable error", err)
	}
	var items *ItemErrors
	if errors.As(err, &items) {
		for _, it := range items.Items {
			if IsPermanent(it.Err) {
				t.Errorf("item %d permanent: %v", it.Index, it.Err)
			}
		}
	}
}

func TestKafkaOptions(t *testing.T) {
	// The flag form: brokers with commas, everything else by default.
	sink, err := Open("kafka:127.0.0.1:9092, 127.0.0.1:9093")
	if err != nil {
		t.Fatal(err)
	}
	k := sink.(*Kafka)
	if got := k.client.OptValue(kgo.SeedBrokers); !slices.Equal(got.([]string), []string{"127.0.0.1:9092", "127.0.0.1:9093"}) {
		t.Errorf("brokers %v", got)
	}
	if k.topic != "audit.events" || k.client.OptValue(kgo.ClientID) != "auditproxy" || string(k.contentType) != "application/json" {
		t.Errorf("defaults: topic %q, client id %v, content type %q", k.topic, k.client.OptValue(kgo.ClientID), k.contentType)
	}
	k.Close()

	sink, err = OpenSpec(Spec{Name: "k", Type: "kafka", Options: map[string]any{"brokers": []any{"a:9092", "b:9092"}, "client_id": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := sink.(*Kafka).client.OptValue(kgo.SeedBrokers); !slices.Equal(got.([]string), []string{"a:9092", "b:9092"}) {
		t.Errorf("brokers from a list: %v", got)
	}
	sink.Close()

	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{}, "kafka: no brokers"},
		{map[string]any{"brokers": " , "}, "kafka: no brokers"},
		{map[string]any{"brokers": map[string]any{"a": 1}}, "brokers: want a list"},
		{map[string]any{"brokers": "a:9092", "topic": "no spaces"}, `topic "no spaces"`},
		{map[string]any{"brokers": "a:9092", "topic": ".."}, `topic ".."`},
		{map[string]any{"brokers": "a:9092", "sasl": map[string]any{"mechanism": "gssapi", "username": "u"}}, `mechanism "gssapi": want plain, scram-sha-256 or scram-sha-512`},
		{map[string]any{"brokers": "a:9092", "sasl": map[string]any{"mechanism": "plain"}}, `sasl: no username`},
		{map[string]any{"brokers": "a:9092", "tls": map[string]any{"ca_file": "/nonexistent"}}, `kafka: tls: ca_file`},
		{map[string]any{"brokers": "a:9092", "timeout": "500ms"}, `timeout 500ms: want at least 1s`},
		{map[string]any{"brokers": "a:9092", "acks": 1}, `field acks not found`},
	} {
		_, err := OpenSpec(Spec{Name: "k", Type: "kafka", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestKafkaClosed(t *testing.T) {
	cluster := newKafkaCluster(t, 1)
	k := openTestKafka(t, KafkaConfig{Brokers: cluster.ListenAddrs()})
	// A Write in flight finishes before Close closes the client.
	done := make(chan error, 1)
	go func() { done <- k.Write(context.Background(), batch("inflight", 50)) }()
	time.Sleep(time.Millisecond)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("Write racing Close: %v, want nil or ErrClosed", err)
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := k.Write(context.Background(), batch("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func BenchmarkKafkaKfake(b *testing.B) {
	cluster := newKafkaCluster(b, 1)
	k := openTestKafka(b, KafkaConfig{Brokers: cluster.ListenAddrs()})
	evs := batch("bench", 100)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := k.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportRate(b, n)
}
