package kprodotel_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/kprodotel"
	"github.com/kprod/kprod/producer"
)

func TestHeaderCarrier(t *testing.T) {
	hs := []producer.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}}
	c := kprodotel.NewHeaderCarrier(&hs)
	if got := c.Get("a"); got != "3" {
		t.Errorf("Get(a) = %q, want the last one", got)
	}
	if got := c.Get("A"); got != "" {
		t.Errorf("Get(A) = %q: keys are case-sensitive", got)
	}
	if got := c.Keys(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Keys = %q", got)
	}
	c.Set("a", "9")
	want := []producer.Header{{Key: "a", Value: []byte("9")}, {Key: "b", Value: []byte("2")}}
	if !equalHeaders(hs, want) {
		t.Errorf("after Set(a): %q, want %q", hs, want)
	}
	c.Set("c", "new")
	if len(hs) != 3 || hs[2].Key != "c" || string(hs[2].Value) != "new" {
		t.Errorf("after Set(c): %q", hs)
	}
	var empty []producer.Header
	ec := (*kprodotel.HeaderCarrier)(&empty)
	if ec.Get("x") != "" || len(ec.Keys()) != 0 {
		t.Error("empty carrier")
	}
	ec.Set("x", "y")
	if len(empty) != 1 {
		t.Errorf("Set on an empty carrier: %q", empty)
	}
}

func equalHeaders(a, b []producer.Header) bool {
	return slices.EqualFunc(a, b, func(x, y producer.Header) bool { return x.Key == y.Key && string(x.Value) == string(y.Value) })
}

// Without WithPropagator the Tracer uses the global propagator, or W3C
// Trace Context while the global one is the default no-op.
func TestTracerDefaultPropagator(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	defer tp.Shutdown(context.Background())
	ctx := context.Background()

	send := func(tr *kprodotel.Tracer, ctx context.Context) *producer.Record {
		rec := &producer.Record{Topic: "t"}
		ctx = tr.OnSend(ctx, rec)
		tr.OnAck(ctx, producer.Ack{Record: rec, Metadata: producer.RecordMetadata{Topic: "t", Partition: 0, Offset: 1}, Latency: time.Millisecond})
		return rec
	}
	rec := send(kprodotel.NewTracer(kprodotel.WithTracerProvider(tp)), ctx)
	if len(rec.Headers) != 1 || rec.Headers[0].Key != "traceparent" {
		t.Errorf("with the global no-op propagator: headers %q, want traceparent alone", rec.Headers)
	}

	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	// The global one cannot be put back as it was; an empty composite
	// propagates nothing either.
	defer otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	m, _ := baggage.NewMember("tenant", "acme")
	b, _ := baggage.New(m)
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	rec = send(tr, baggage.ContextWithBaggage(ctx, b))
	if got := kprodotel.NewHeaderCarrier(&rec.Headers).Get("baggage"); got != "tenant=acme" {
		t.Errorf("with a global baggage propagator: baggage header %q (headers %q)", got, rec.Headers)
	}
	if got := baggage.FromContext(tr.Extract(ctx, rec.Headers)).Member("tenant").Value(); got != "acme" {
		t.Errorf("Extract: baggage tenant=%q", got)
	}
}

// OnAck with a context OnSend did not return (as after a send hook's
// recovered panic) ends no span: in particular not the caller's.
func TestTracerOnAckForeignContext(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	tr.OnAck(ctx, producer.Ack{Record: &producer.Record{Topic: "t"}, Metadata: producer.RecordMetadata{}})
	if !parent.IsRecording() || len(rec.Ended()) != 0 {
		t.Error("OnAck ended a span it did not start")
	}
	parent.End()
	if got := trace.SpanContextFromContext(tr.Extract(context.Background(), nil)); got.IsValid() {
		t.Errorf("Extract of no headers: %v", got)
	}
}

// Past the bound of the per-topic caches, spans and metrics are still
// right (their attributes are then made on each use).
func TestManyTopics(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	tr := kprodotel.NewTracer(kprodotel.WithTracerProvider(tp))
	const n = 1500
	for i := range n {
		topic := "t" + strconv.Itoa(i)
		for range 2 {
			rec := &producer.Record{Topic: topic}
			ctx := tr.OnSend(context.Background(), rec)
			tr.OnAck(ctx, producer.Ack{Record: rec, Metadata: producer.RecordMetadata{Topic: topic, Offset: 1}})
		}
	}
	ended := spans.Ended()
	if len(ended) != 2*n {
		t.Fatalf("%d spans", len(ended))
	}
	for i, s := range ended {
		topic := "t" + strconv.Itoa(i/2)
		if s.Name() != "send "+topic {
			t.Fatalf("span %d named %q", i, s.Name())
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "messaging.destination.name" && kv.Value.AsString() != topic {
				t.Fatalf("span %d: destination %q", i, kv.Value.AsString())
			}
		}
	}
}
