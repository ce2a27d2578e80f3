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
		tr.OnAck(actx, &rec, md, nil, time.Millisecond)
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
		tr.OnAck(actx, &rec, producer.RecordMetadata{Topic: "orders", Partition: -1, Offset: -1}, err, time.Millisecond)
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
		m.OnAck(ctx, rec, md, nil, 3*time.Millisecond)
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
