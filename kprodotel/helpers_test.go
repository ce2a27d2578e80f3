package kprodotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// rig is a producer on an embedded cluster with a Tracer and a Meter
// reporting to in-memory SDK providers.
type rig struct {
	cluster *producertest.Cluster
	spans   *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	reader  *sdkmetric.ManualReader
	tracer  *kprodotel.Tracer
	meter   *kprodotel.Meter
	p       *producer.Producer
}

func newRig(t *testing.T, copts []producertest.ClusterOpt, popts ...producer.Opt) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.cluster = producertest.NewCluster(t, append([]producertest.ClusterOpt{producertest.NumBrokers(1)}, copts...)...)
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		r.tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	r.tracer = kprodotel.NewTracer(kprodotel.WithTracerProvider(r.tp), kprodotel.WithClientID("otel-test"))
	var err error
	r.meter, err = kprodotel.NewMeter(kprodotel.WithMeterProvider(mp), kprodotel.WithClientID("otel-test"))
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]producer.Opt{producer.WithBrokers(r.cluster.Addrs()...), producer.WithClientID("otel-test"),
		producer.WithLinger(2 * time.Millisecond), producer.WithHooks(r.tracer, r.meter)}, popts...)
	r.p, err = producer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.p.Close(ctx)
	})
	return r
}

// ended returns the ended spans named name.
func (r *rig) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// collect reads the meter's metrics, by name.
func (r *rig) collect(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// readBack consumes n records of topic from the start with franz-go's kgo,
// an independent client, within 15 seconds.
func readBack(t *testing.T, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before the deadline", len(out), n, topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func attrsOf(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// headerCount counts the headers with key.
func headerCount(hs []producer.Header, key string) int {
	n := 0
	for _, h := range hs {
		if h.Key == key {
			n++
		}
	}
	return n
}
