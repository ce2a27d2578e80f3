package kprodotel_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// Every record gets one producer span, a child of the span in Send's ctx,
// ended once with the semantic conventions' attributes and where the record
// was written; the record in the log carries that span's context.
func TestTracerSpanPerRecord(t *testing.T) {
	const n = 60
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("orders", 3)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ctx, parent := r.tp.Tracer("test").Start(ctx, "handle request")
	futs := make([]producer.Future, n)
	for i := range n {
		rec := &producer.Record{Topic: "orders", Key: []byte(fmt.Sprintf("k%03d", i)), Value: make([]byte, i),
			Headers: []producer.Header{{Key: "app", Value: []byte("x")}}}
		futs[i] = r.p.Send(ctx, rec, nil)
	}
	mds := map[string]producer.RecordMetadata{} // by key
	for i, f := range futs {
		md, err := f.Get(ctx)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		mds[fmt.Sprintf("k%03d", i)] = md
	}
	// A Future resolves before the record's ack hooks run; Flush waits for
	// them (they run before the record's callback).
	if err := r.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	spans := r.ended("send orders")
	if len(spans) != n {
		t.Fatalf("%d spans ended, want %d", len(spans), n)
	}
	if started := len(r.spans.Started()); started != n+1 {
		t.Errorf("%d spans started, want %d (the records' and the parent)", started, n+1)
	}
	byKey := map[string]sdktrace.ReadOnlySpan{}
	seen := map[trace.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanContext().SpanID()] {
			t.Fatalf("span %v ended twice", s.SpanContext().SpanID())
		}
		seen[s.SpanContext().SpanID()] = true
		if s.SpanKind() != trace.SpanKindProducer {
			t.Errorf("kind %v", s.SpanKind())
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %v is not a child of the parent span", s.SpanContext().SpanID())
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("status %v", s.Status())
		}
		a := attrsOf(s.Attributes())
		key := a["messaging.kafka.message.key"].AsString()
		md, ok := mds[key]
		if !ok {
			t.Fatalf("span with key %q: no such record", key)
		}
		byKey[key] = s
		want := map[attribute.Key]attribute.Value{
			"messaging.system":                   attribute.StringValue("kafka"),
			"messaging.operation.name":           attribute.StringValue("send"),
			"messaging.operation.type":           attribute.StringValue("send"),
			"messaging.destination.name":         attribute.StringValue("orders"),
			"messaging.client.id":                attribute.StringValue("otel-test"),
			"messaging.destination.partition.id": attribute.StringValue(strconv.Itoa(int(md.Partition))),
			"messaging.kafka.offset":             attribute.Int64Value(md.Offset),
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s: %s = %v, want %v", key, k, a[k].Emit(), v.Emit())
			}
		}
		i, _ := strconv.Atoi(key[1:])
		if got := a["messaging.message.body.size"].AsInt64(); got != int64(i) {
			t.Errorf("%s: body size %d, want %d", key, got, i)
		}
		if _, ok := a["error.type"]; ok {
			t.Errorf("%s: error.type on a success", key)
		}
	}

	// The log: each record carries its own span's context, once.
	for _, kr := range readBack(t, r.cluster.Addrs(), "orders", n) {
		s := byKey[string(kr.Key)]
		if s == nil {
			t.Fatalf("record %q read back has no span", kr.Key)
		}
		hs := make([]producer.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			hs[i] = producer.Header{Key: h.Key, Value: h.Value}
		}
		if c := headerCount(hs, "traceparent"); c != 1 {
			t.Errorf("%s: %d traceparent headers", kr.Key, c)
		}
		if headerCount(hs, "app") != 1 {
			t.Errorf("%s: the record's own header is lost: %v", kr.Key, hs)
		}
		want := s.SpanContext()
		tp := fmt.Sprintf("00-%s-%s-%s", want.TraceID(), want.SpanID(), want.TraceFlags())
		if got := string(hs[len(hs)-1].Value); got != tp {
			t.Errorf("%s: traceparent %q, want %q", kr.Key, got, tp)
		}
		got := trace.SpanContextFromContext(r.tracer.Extract(context.Background(), hs))
		if !got.Equal(want.WithRemote(true)) {
			t.Errorf("%s: Extract gave %+v, want %+v", kr.Key, got, want)
		}
	}
}

// A record the producer refuses, and one the broker refuses, end their spans
// with status Error, the error recorded and error.type.
func TestTracerFailedRecords(t *testing.T) {
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("orders", 1)},
		producer.WithMaxRequestSize(4096), producer.WithMaxBlock(300*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cases := []struct {
		rec      *producer.Record
		fault    func()
		wantErr  error
		wantType string
	}{
		{rec: &producer.Record{Topic: "orders", Value: make([]byte, 8000)}, wantErr: producer.ErrRecordTooLarge, wantType: "record_too_large"},
		{rec: &producer.Record{Topic: "no-such-topic", Value: []byte("v")}, wantErr: producer.ErrUnknownTopic, wantType: "unknown_topic"},
		{rec: &producer.Record{Topic: "orders", Value: []byte("refused")}, wantErr: kerr.InvalidRecord, wantType: "INVALID_RECORD",
			fault: func() { r.cluster.FailNextProduce("orders", 1, kerr.InvalidRecord) }},
	}
	for _, c := range cases {
		t.Run(c.wantType, func(t *testing.T) {
			r.spans.Reset()
			if c.fault != nil {
				c.fault()
			}
			_, err := r.p.SendSync(ctx, c.rec)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("SendSync: %v, want %v", err, c.wantErr)
			}
			if err := r.p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			spans := r.ended("send " + c.rec.Topic)
			if len(spans) != 1 {
				t.Fatalf("%d spans ended, want 1", len(spans))
			}
			s := spans[0]
			if s.Status().Code != codes.Error || s.Status().Description != err.Error() {
				t.Errorf("status %+v", s.Status())
			}
			if got := attrsOf(s.Attributes())["error.type"].AsString(); got != c.wantType {
				t.Errorf("error.type %q, want %q", got, c.wantType)
			}
			if _, ok := attrsOf(s.Attributes())["messaging.kafka.offset"]; ok {
				t.Error("an offset on a failed record")
			}
			if ev := s.Events(); len(ev) != 1 || ev[0].Name != "exception" {
				t.Errorf("events %v, want one exception", ev)
			}
		})
	}
}

// Sending the same Record again (a retry by the caller) that carries a
// stale trace context: each record written carries its own send span's
// context once, the stale one is no parent, and the caller's Record is
// left as it was (the hooks work on the producer's copy).
func TestTracerResendReplacesTraceparent(t *testing.T) {
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("orders", 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stale := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rec := &producer.Record{Topic: "orders", Value: []byte("v"), Headers: []producer.Header{
		{Key: "traceparent", Value: []byte(stale)},
		{Key: "tracestate", Value: []byte("old=1")},
		{Key: "app", Value: []byte("x")},
	}}
	for i := range 3 {
		if _, err := r.p.SendSync(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.Headers) != 3 || string(rec.Headers[0].Value) != stale || string(rec.Headers[1].Value) != "old=1" {
			t.Fatalf("send %d: the caller's headers changed: %q", i, rec.Headers)
		}
	}
	if err := r.p.Flush(ctx); err != nil { // the ack hooks ended the spans
		t.Fatal(err)
	}
	spans := r.ended("send orders")
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, s := range spans {
		if s.Parent().IsValid() {
			t.Errorf("a stale traceparent on the record became the parent: %v", s.Parent())
		}
	}
	recs := readBack(t, r.cluster.Addrs(), "orders", 3)
	for i, kr := range recs {
		var hs []producer.Header
		for _, h := range kr.Headers {
			hs = append(hs, producer.Header{Key: h.Key, Value: h.Value})
		}
		if headerCount(hs, "traceparent") != 1 || headerCount(hs, "tracestate") != 0 || headerCount(hs, "app") != 1 {
			t.Fatalf("record %d: headers %q in the log", i, hs)
		}
		got := trace.SpanContextFromContext(r.tracer.Extract(context.Background(), hs))
		if want := spans[i].SpanContext(); got.SpanID() != want.SpanID() || got.TraceID() != want.TraceID() {
			t.Errorf("record %d carries span %v, want its send span %v", i, got.SpanID(), want.SpanID())
		}
	}
}

// Several goroutines send under one parent, with records that share one
// header slice (with room to grow): no data race, and every record gets its
// own span and header.
func TestTracerConcurrentSends(t *testing.T) {
	const goroutines, per = 4, 100
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("orders", 4)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, parent := r.tp.Tracer("test").Start(ctx, "parent")
	shared := make([]producer.Header, 1, 8)
	shared[0] = producer.Header{Key: "app", Value: []byte("shared")}

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*per)
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				rec := &producer.Record{Topic: "orders", Key: []byte(fmt.Sprintf("g%d-%d", g, i)), Value: []byte("v"), Headers: shared}
				r.p.Send(ctx, rec, func(_ producer.RecordMetadata, err error) {
					if err != nil {
						errs <- err
					}
				})
			}
		})
	}
	wg.Wait()
	if err := r.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(shared) != 1 || headerCount(shared[:cap(shared)], "traceparent") != 0 {
		t.Errorf("the shared header slice was written: %q", shared[:cap(shared)])
	}
	spans := r.ended("send orders")
	if len(spans) != goroutines*per {
		t.Fatalf("%d spans, want %d", len(spans), goroutines*per)
	}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Fatal("a span is not the parent's child")
		}
	}
	if len(ids) != goroutines*per {
		t.Errorf("%d distinct spans", len(ids))
	}
	recs := readBack(t, r.cluster.Addrs(), "orders", goroutines*per)
	seen := map[string]bool{}
	for _, kr := range recs {
		for _, h := range kr.Headers {
			if h.Key == "traceparent" {
				seen[string(h.Value)] = true
			}
		}
	}
	if len(seen) != goroutines*per {
		t.Errorf("%d distinct traceparents in the log, want %d", len(seen), goroutines*per)
	}
}

// The hooks read nothing of the Record when it is answered, so a caller
// that reuses one Record value for its next Send (as it may without ack
// hooks) does not race with them; each send still gets its own span and
// traceparent.
func TestHooksLeaveTheRecordAloneOnAck(t *testing.T) {
	const n = 200
	r := newRig(t, []producertest.ClusterOpt{producertest.WithTopic("a", 1), producertest.WithTopic("b", 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rec producer.Record
	for i := range n {
		rec.Topic = []string{"a", "b"}[i%2]
		rec.Value = []byte(strconv.Itoa(i))
		r.p.Send(ctx, &rec, nil)
	}
	if err := r.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(r.ended("send a")) + len(r.ended("send b")); got != n {
		t.Errorf("%d spans, want %d", got, n)
	}
	m := r.collect(t)
	for _, topic := range []string{"a", "b"} {
		if got := sumPoints(t, m["messaging.client.sent.messages"], has("messaging.destination.name", topic)); got != n/2 {
			t.Errorf("topic %s: %d records counted, want %d", topic, got, n/2)
		}
	}
}
