package kprodotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// The Tracer's cost per record: OnSend and OnAck with an SDK provider whose
// spans are all sampled and exported to nowhere.
func BenchmarkTracerSendAck(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	ctx, parent := tp.Tracer("bench").Start(context.Background(), "parent")
	defer parent.End()
	key, value := []byte("order-42"), make([]byte, 200)
	md := producer.RecordMetadata{Topic: "orders", Partition: 3, Offset: 1000}
	b.ReportAllocs()
	for b.Loop() {
		rec := producer.Record{Topic: "orders", Key: key, Value: value}
		actx := tr.OnSend(ctx, &rec)
		tr.OnAck(actx, producer.Ack{Record: &rec, Metadata: md, Latency: time.Millisecond})
	}
}

// The same when the sampler drops the span (a ratio sampler's usual case):
// the context is still propagated.
func BenchmarkTracerSendAckUnsampled(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	key, value := []byte("order-42"), make([]byte, 200)
	md := producer.RecordMetadata{Topic: "orders", Partition: 3, Offset: 1000}
	b.ReportAllocs()
	for b.Loop() {
		rec := producer.Record{Topic: "orders", Key: key, Value: value}
		actx := tr.OnSend(context.Background(), &rec)
		tr.OnAck(actx, producer.Ack{Record: &rec, Metadata: md, Latency: time.Millisecond})
	}
}

// The same, for a failed record.
func BenchmarkTracerSendAckFailed(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	err := errors.Join(producer.ErrDeliveryTimeout)
	b.ReportAllocs()
	for b.Loop() {
		rec := producer.Record{Topic: "orders", Value: []byte("v")}
		actx := tr.OnSend(context.Background(), &rec)
		tr.OnAck(actx, producer.Ack{Record: &rec, Metadata: producer.RecordMetadata{Topic: "orders", Partition: -1, Offset: -1}, Err: err, Latency: time.Millisecond})
	}
}

// The Meter's cost per record (OnAck) with an SDK provider and a manual
// reader.
func BenchmarkMeterOnAck(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp), kprodotel.WithClientID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	rec := &producer.Record{Topic: "orders", Value: []byte("v")}
	md := producer.RecordMetadata{Topic: "orders", Partition: 3, Offset: 1000}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.OnAck(ctx, producer.Ack{Record: rec, Metadata: md, Latency: 3 * time.Millisecond})
	}
}

// The Meter's cost per acknowledged batch.
func BenchmarkMeterOnBatchWritten(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	bw := producer.BatchWritten{Topic: "orders", Partition: 1, Records: 40, Bytes: 16000}
	b.ReportAllocs()
	for b.Loop() {
		m.OnBatchWritten(bw)
	}
}

// A reference for BenchmarkTracerSendAck: a bare span started and ended on
// the same provider, without attributes or propagation.
func BenchmarkSDKSpanBaseline(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("bench")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tr.Start(ctx, "send orders")
		span.End()
	}
}

// Send through a producer on the embedded cluster, without hooks and with
// the Tracer, the Meter or both: what the adapter adds to a record's trip.
func BenchmarkProducerSend(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	tracer := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	meter, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		hooks []producer.Hook
	}{
		{"none", nil},
		{"tracer", []producer.Hook{tracer}},
		{"meter", []producer.Hook{meter}},
		{"both", []producer.Hook{tracer, meter}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cluster := producertest.NewCluster(b, producertest.NumBrokers(1), producertest.WithTopic("orders", 3))
			opts := []producer.Opt{producer.WithBrokers(cluster.Addrs()...)}
			if c.hooks != nil {
				opts = append(opts, producer.WithHooks(c.hooks...))
			}
			p, err := producer.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			defer p.Close(ctx)
			if _, err := p.SendSync(ctx, &producer.Record{Topic: "orders"}); err != nil { // metadata and connection ready
				b.Fatal(err)
			}
			value := make([]byte, 100)
			b.ReportAllocs()
			for b.Loop() {
				p.Send(ctx, &producer.Record{Topic: "orders", Value: value}, nil)
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
