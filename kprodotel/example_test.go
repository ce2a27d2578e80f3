package kprodotel_test

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// Wiring a Tracer and a Meter into a producer. A service passes its own
// providers (or none, to use the global ones) and sets the global
// propagator once at start-up, otel.SetTextMapPropagator(...); here the
// providers keep everything in memory and the brokers are an embedded
// cluster.
func Example() {
	cluster, err := producertest.StartCluster(producertest.NumBrokers(1), producertest.WithTopic("orders", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	tracer := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp),
		kprodotel.WithPropagator(propagation.TraceContext{}), kprodotel.WithClientID("orders-svc"))
	meter, err := kprodotel.NewMeter(kprodotel.WithMeterProvider(mp), kprodotel.WithClientID("orders-svc"))
	if err != nil {
		log.Fatal(err)
	}
	p, err := producer.New(producer.WithBrokers(cluster.Addrs()...), producer.WithClientID("orders-svc"),
		producer.WithHooks(tracer, meter))
	if err != nil {
		log.Fatal(err)
	}

	// The record's span is a child of the span in Send's ctx.
	ctx, handler := tp.Tracer("orders-svc").Start(context.Background(), "POST /orders")
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)}); err != nil {
		log.Fatal(err)
	}
	handler.End()
	p.Close(context.Background()) // the ack hooks have run when Close returns

	for _, s := range spans.Ended() {
		if s.SpanKind() != trace.SpanKindProducer {
			continue
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		fmt.Printf("span %q: partition %s, offset %s, child of the handler: %v\n", s.Name(),
			attrs["messaging.destination.partition.id"], attrs["messaging.kafka.offset"],
			s.Parent().SpanID() == handler.SpanContext().SpanID())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "messaging.client.sent.messages" {
				fmt.Println(m.Name, sum.DataPoints[0].Value)
			}
		}
	}
	// Output:
	// span "send orders": partition 0, offset 0, child of the handler: true
	// messaging.client.sent.messages 1
}

// The consumer side: the trace context a record carries in its headers
// becomes the parent (or a link) of the span that processes it.
func ExampleTracer_Extract() {
	cluster, err := producertest.StartCluster(producertest.NumBrokers(1), producertest.WithTopic("orders", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	tp := sdktrace.NewTracerProvider()
	tracer := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp), kprodotel.WithPropagator(propagation.TraceContext{}))
	p, err := producer.New(producer.WithBrokers(cluster.Addrs()...), producer.WithHooks(tracer))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	ctx, sender := tp.Tracer("orders-svc").Start(context.Background(), "POST /orders")
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Value: []byte("order-1")}); err != nil {
		log.Fatal(err)
	}
	sender.End()

	// A consumer reads the record (any client will do) and extracts the
	// trace context from its headers.
	recs, err := cluster.Records(context.Background(), "orders")
	if err != nil {
		log.Fatal(err)
	}
	ctx = tracer.Extract(context.Background(), recs[0].Headers)
	_, process := tp.Tracer("billing-svc").Start(ctx, "process orders", trace.WithSpanKind(trace.SpanKindConsumer))
	defer process.End()
	fmt.Println("same trace as the sender:", process.SpanContext().TraceID() == sender.SpanContext().TraceID())
	// Output:
	// same trace as the sender: true
}

// A HeaderCarrier lets any propagator read and write record headers.
func ExampleHeaderCarrier() {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	rec := &producer.Record{Topic: "orders", Headers: []producer.Header{{Key: "app", Value: []byte("v1")}}}
	propagation.TraceContext{}.Inject(ctx, kprodotel.NewHeaderCarrier(&rec.Headers))
	for _, h := range rec.Headers {
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	// Output:
	// app: v1
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}
