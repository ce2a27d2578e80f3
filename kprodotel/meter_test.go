package kprodotel_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

func sumPoints(t *testing.T, data metricdata.Aggregation, match func(attribute.Set) bool) int64 {
	t.Helper()
	s, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%T is not an int64 sum", data)
	}
	var n int64
	for _, dp := range s.DataPoints {
		if match(dp.Attributes) {
			n += dp.Value
		}
	}
	return n
}

// histPoints adds up the count and sum of the matching points of an int64
// or float64 histogram.
func histPoints(t *testing.T, data metricdata.Aggregation, match func(attribute.Set) bool) (count uint64, sum float64) {
	t.Helper()
	switch h := data.(type) {
	case metricdata.Histogram[int64]:
		for _, dp := range h.DataPoints {
			if match(dp.Attributes) {
				count, sum = count+dp.Count, sum+float64(dp.Sum)
			}
		}
	case metricdata.Histogram[float64]:
		for _, dp := range h.DataPoints {
			if match(dp.Attributes) {
				count, sum = count+dp.Count, sum+dp.Sum
			}
		}
	default:
		t.Fatalf("%T is not a histogram", data)
	}
	return count, sum
}

func has(k attribute.Key, v string) func(attribute.Set) bool {
	return func(s attribute.Set) bool {
		got, ok := s.Value(k)
		return ok && got.Emit() == v
	}
}

func all(fs ...func(attribute.Set) bool) func(attribute.Set) bool {
	return func(s attribute.Set) bool {
		for _, f := range fs {
			if !f(s) {
				return false
			}
		}
		return true
	}
}

func lacks(k attribute.Key) func(attribute.Set) bool {
	return func(s attribute.Set) bool { return !s.HasValue(k) }
}

// The meter counts every record, its latency, the batches that carried
// them, the requests, a retry and a failure.
func TestMeterCountsRecordsBatchesRequests(t *testing.T) {
	const n = 50
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("orders", 2)}, producer.WithMaxRequestSize(4096))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// One retriable refusal: its batch is sent again.
	fault := r.cluster.FailNextProduce("orders", 1, kerr.NotLeaderForPartition)
	var written int64
	for i := range n {
		r.p.Send(ctx, &producer.Record{Topic: "orders", Value: make([]byte, 100)}, func(_ producer.RecordMetadata, err error) {
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		})
		written += 100
	}
	if _, err := r.p.SendSync(ctx, &producer.Record{Topic: "orders", Value: make([]byte, 5000)}); !errors.Is(err, producer.ErrRecordTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if err := r.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if fault.Hits() != 1 {
		t.Fatalf("the fault struck %d times", fault.Hits())
	}
	if err := r.p.Close(ctx); err != nil { // every request answered
		t.Fatal(err)
	}
	m := r.collect(t)

	orders := all(has("messaging.destination.name", "orders"), has("messaging.system", "kafka"), has("messaging.client.id", "otel-test"))
	ok := all(orders, has("messaging.operation.name", "send"), lacks("error.type"))
	tooLarge := all(orders, has("error.type", "record_too_large"))
	if got := sumPoints(t, m["messaging.client.sent.messages"], ok); got != n {
		t.Errorf("sent messages %d, want %d", got, n)
	}
	if got := sumPoints(t, m["messaging.client.sent.messages"], tooLarge); got != 1 {
		t.Errorf("failed messages %d, want 1", got)
	}
	if c, sum := histPoints(t, m["messaging.client.operation.duration"], ok); c != n || sum <= 0 || sum > n*20 {
		t.Errorf("operation duration: count %d sum %vs, want %d records", c, sum, n)
	}
	if c, _ := histPoints(t, m["messaging.client.operation.duration"], tooLarge); c != 1 {
		t.Errorf("operation duration of the failure: count %d", c)
	}

	batches, records := histPoints(t, m["kprod.producer.batch.records"], orders)
	if records != n || batches == 0 || batches > n {
		t.Errorf("batch records: %d batches, %v records, want %d records", batches, records, n)
	}
	if c, bytes := histPoints(t, m["kprod.producer.batch.size"], orders); c != batches || bytes < float64(written) {
		t.Errorf("batch size: %d batches, %v bytes, want %d batches of at least %d bytes in all", c, bytes, batches, written)
	}
	if got := sumPoints(t, m["kprod.producer.retries"], orders); got < 1 {
		t.Errorf("retries %d, want at least 1", got)
	}
	produce := has("kprod.api.name", "Produce")
	if c, _ := histPoints(t, m["kprod.producer.request.duration"], produce); c < uint64(batches)/2 || c == 0 {
		t.Errorf("%d produce requests timed for %d batches", c, batches)
	}
	if c, _ := histPoints(t, m["kprod.producer.request.duration"], has("kprod.api.name", "Metadata")); c == 0 {
		t.Error("no metadata request timed")
	}
	if c, _ := histPoints(t, m["kprod.producer.request.duration"], all(produce, has("kprod.broker.id", "0"))); c == 0 {
		t.Error("no produce request timed for broker 0")
	}
	if got := sumPoints(t, m["kprod.producer.requests.inflight"], func(attribute.Set) bool { return true }); got != 0 {
		t.Errorf("%d requests in flight after Close", got)
	}
}

// A ProducerIDHook call is counted (the producer only resets its id after
// sequence errors, which are hard to bring about on purpose).
func TestMeterProducerIDResets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	m.OnProducerIDReset(producer.ProducerIDReset{ProducerID: 7, PrevProducerID: 7, Epoch: 1})
	m.OnProducerIDReset(producer.ProducerIDReset{ProducerID: 8, PrevProducerID: 7})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name == "kprod.producer.producer_id.resets" {
				if got := sumPoints(t, md.Data, has("messaging.system", "kafka")); got != 2 {
					t.Errorf("resets %d, want 2", got)
				}
				return
			}
		}
	}
	t.Error("no kprod.producer.producer_id.resets metric")
}

// Past the bound of the per-topic caches every topic is still counted.
func TestMeterManyTopics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500
	for i := range n {
		md := producer.RecordMetadata{Topic: "t" + strconv.Itoa(i)}
		m.OnAck(context.Background(), producer.Ack{Record: &producer.Record{Topic: md.Topic}, Metadata: md, Latency: time.Millisecond})
		m.OnAck(context.Background(), producer.Ack{Record: &producer.Record{Topic: md.Topic}, Metadata: md, Latency: time.Millisecond})
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != "messaging.client.sent.messages" {
				continue
			}
			points := md.Data.(metricdata.Sum[int64]).DataPoints
			if len(points) != n {
				t.Fatalf("%d series, want %d", len(points), n)
			}
			for _, dp := range points {
				if dp.Value != 2 {
					v, _ := dp.Attributes.Value("messaging.destination.name")
					t.Fatalf("%s: %d records, want 2", v.Emit(), dp.Value)
				}
			}
			return
		}
	}
	t.Error("no messaging.client.sent.messages")
}

// With no options and no global providers set, both hooks work and record
// nothing; the Tracer still passes the caller's trace context on.
func TestDefaultsWithoutGlobalProviders(t *testing.T) {
	tr := kprodotel.NewTracer()
	m, err := kprodotel.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	rec := &producer.Record{Topic: "t"}
	actx := tr.OnSend(ctx, rec)
	md := producer.RecordMetadata{Topic: "t", Offset: 5}
	tr.OnAck(actx, producer.Ack{Record: rec, Metadata: md, Latency: time.Millisecond})
	m.OnAck(actx, producer.Ack{Record: rec, Metadata: md, Latency: time.Millisecond})
	m.OnBatchWritten(producer.BatchWritten{Topic: "t", Records: 1, Bytes: 80})
	m.OnRequestSent(producer.RequestSent{Broker: 1, API: "Produce"})
	m.OnRequestAnswered(producer.RequestAnswered{Broker: 1, API: "Produce", Err: errors.New("x")})
	m.OnRetry(producer.Retry{Topic: "t", Records: 1})
	m.OnProducerIDReset(producer.ProducerIDReset{})
	if got := trace.SpanContextFromContext(tr.Extract(context.Background(), rec.Headers)); got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() {
		t.Errorf("headers %q carry %v, want the caller's context", rec.Headers, got)
	}
}
