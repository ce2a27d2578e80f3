package kprodotel

import (
	"context"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/producer"
)

// Tracer gives every record sent a span of kind Producer, "send <topic>",
// from Send to the record's answer, with the attributes of OpenTelemetry's
// messaging semantic conventions for Kafka, and writes the span's context
// into the record's headers so consumers can continue the trace. Install it
// with producer.WithHooks; it is a producer.SendHook and a producer.AckHook
// and is safe for concurrent use.
//
// A span ends when the producer runs the record's ack hooks: just after its
// Future resolves and before its callback. So right after SendSync or
// Future.Get returns the span may still be open; after Flush or Close it
// has ended.
type Tracer struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	fields   []string           // the header keys prop writes
	clientID attribute.KeyValue // Valid() only when WithClientID was given
	topics   cache[string, *spanTopic]
}

var (
	_ producer.SendHook = (*Tracer)(nil)
	_ producer.AckHook  = (*Tracer)(nil)
)

// spanTopic is what every span of one topic shares, made on its first record.
type spanTopic struct {
	name  string                  // "send <topic>"
	start []trace.SpanStartOption // kind and the per-topic attributes
}

// NewTracer returns a Tracer. It uses WithTracerProvider, WithPropagator
// and WithClientID.
func NewTracer(opts ...Option) *Tracer {
	c := newConfig(opts)
	t := &Tracer{
		tracer: c.tp.Tracer(scope, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:   c.prop,
		fields: c.prop.Fields(),
	}
	if c.clientID != "" {
		t.clientID = semconv.MessagingClientID(c.clientID)
	}
	return t
}

func (t *Tracer) topic(name string) *spanTopic {
	if st, ok := t.topics.load(name); ok {
		return st
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKafka,
		semconv.MessagingOperationName("send"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(name),
	}
	if t.clientID.Valid() {
		attrs = append(attrs, t.clientID)
	}
	st := &spanTopic{
		name:  "send " + name,
		start: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...)},
	}
	if name == "" { // refused as invalid; the conventions name a span without destination by its operation alone
		st.name = "send"
	}
	return t.topics.store(name, st)
}

// sendCtx is the context OnSend returns: the span's context, and the span
// itself so OnAck ends this span and no other (a context without one, as
// after a recovered panic, ends nothing).
type sendCtx struct {
	context.Context
	span    trace.Span
	headers []producer.Header // the record's new headers (here, to share sendCtx's allocation)
}

type sendCtxKey struct{}

// Value answers sendCtxKey with the sendCtx itself.
func (c *sendCtx) Value(key any) any {
	if key == (sendCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// OnSend starts the record's span as a child of the span in ctx (a root
// span when there is none) and writes its context into rec.Headers through
// the propagator. The headers the propagator writes (traceparent and
// tracestate by default) are first removed from the record, so a record
// sent again carries the new span's context once. rec.Headers gets a new
// slice: the caller's backing array is never written, so records may share
// one header slice.
func (t *Tracer) OnSend(ctx context.Context, rec *producer.Record) context.Context {
	st := t.topic(rec.Topic)
	ctx, span := t.tracer.Start(ctx, st.name, st.start...)
	if span.IsRecording() {
		span.SetAttributes(recordAttrs(rec)...)
	}
	sc := &sendCtx{Context: ctx, span: span, headers: make([]producer.Header, 0, len(rec.Headers)+len(t.fields))}
	for _, h := range rec.Headers {
		if !t.owns(h.Key) {
			sc.headers = append(sc.headers, h)
		}
	}
	t.prop.Inject(ctx, (*HeaderCarrier)(&sc.headers))
	rec.Headers = sc.headers
	return sc
}

// recordAttrs are the attributes of one record: its key when it is text,
// its value's size, and the tombstone mark for a null value.
func recordAttrs(rec *producer.Record) []attribute.KeyValue {
	var a [3]attribute.KeyValue
	attrs := append(a[:0], semconv.MessagingMessageBodySize(len(rec.Value)))
	if rec.Key != nil && utf8.Valid(rec.Key) {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(rec.Key)))
	}
	if rec.Value == nil {
		attrs = append(attrs, semconv.MessagingKafkaMessageTombstone(true))
	}
	return attrs
}

func (t *Tracer) owns(key string) bool {
	for _, f := range t.fields {
		if f == key {
			return true
		}
	}
	return false
}

// OnAck ends the span OnSend started: with the partition and offset the
// record was written at, or with the error recorded, status Error and
// error.type.
func (t *Tracer) OnAck(ctx context.Context, a producer.Ack) {
	md, err := a.Metadata, a.Err
	sc, _ := ctx.Value(sendCtxKey{}).(*sendCtx)
	if sc == nil {
		return
	}
	span := sc.span
	if span.IsRecording() {
		var a [3]attribute.KeyValue
		attrs := a[:0]
		if md.Partition >= 0 {
			attrs = append(attrs, semconv.MessagingDestinationPartitionID(strconv.Itoa(int(md.Partition))))
		}
		if err == nil && md.Offset >= 0 {
			attrs = append(attrs, semconv.MessagingKafkaOffset(int(md.Offset)))
		}
		if err != nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(attrs...)
	}
	span.End()
}

// Extract returns ctx with the trace context the propagator finds in a
// record's headers, for the consumer side: a span started from the result
// is a child of the producer's span (or link to it with
// trace.LinkFromContext).
func (t *Tracer) Extract(ctx context.Context, headers []producer.Header) context.Context {
	return t.prop.Extract(ctx, (*HeaderCarrier)(&headers))
}
