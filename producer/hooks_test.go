package producer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// hookLog is a hook of every kind that records what it saw.
type hookLog struct {
	mu        sync.Mutex
	sends     int
	acks      map[string]int // record id → OnAck calls
	ackErrs   int
	ctxWrong  int // OnAck got a context other than the one OnSend returned
	mdWrong   int // OnAck's metadata disagrees with the record's answer
	batches   []BatchWritten
	sent      map[string]int // API → OnRequestSent calls
	answered  map[string]int // API → OnRequestAnswered calls
	retries   []Retry
	resets    []ProducerIDReset
	latencies []time.Duration
}

type idKey struct{}

func newHookLog() *hookLog {
	return &hookLog{acks: map[string]int{}, sent: map[string]int{}, answered: map[string]int{}}
}

// OnSend stamps the record with a header naming it and keeps the name in
// the context, so OnAck can check it gets that context with that record.
func (h *hookLog) OnSend(ctx context.Context, rec *Record) context.Context {
	h.mu.Lock()
	h.sends++
	h.mu.Unlock()
	id := string(rec.Value)
	rec.Headers = append(rec.Headers, Header{Key: "hook-id", Value: []byte(id)})
	return context.WithValue(ctx, idKey{}, id)
}

func (h *hookLog) OnAck(ctx context.Context, a Ack) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec, md, err, latency := a.Record, a.Metadata, a.Err, a.Latency
	id := string(rec.Value)
	if err == nil && a.Size < len(rec.Value) {
		h.mdWrong++
	}
	h.acks[id]++
	if got, _ := ctx.Value(idKey{}).(string); got != id {
		h.ctxWrong++
	}
	if md.Topic != rec.Topic {
		h.mdWrong++
	}
	if err != nil {
		h.ackErrs++
	}
	h.latencies = append(h.latencies, latency)
}

func (h *hookLog) OnBatchWritten(b BatchWritten) {
	h.mu.Lock()
	h.batches = append(h.batches, b)
	h.mu.Unlock()
}

func (h *hookLog) OnRequestSent(r RequestSent) {
	h.mu.Lock()
	h.sent[r.API]++
	h.mu.Unlock()
}

func (h *hookLog) OnRequestAnswered(r RequestAnswered) {
	h.mu.Lock()
	h.answered[r.API]++
	h.mu.Unlock()
}

func (h *hookLog) OnRetry(r Retry) {
	h.mu.Lock()
	h.retries = append(h.retries, r)
	h.mu.Unlock()
}

func (h *hookLog) OnProducerIDReset(r ProducerIDReset) {
	h.mu.Lock()
	h.resets = append(h.resets, r)
	h.mu.Unlock()
}

// TestHooksSeeEveryRecord sends under retriable errors and a lost producer
// id: each record's OnAck runs once with the context its OnSend returned,
// the header OnSend added is in the log, and the batch, request, retry and
// producer-id hooks add up with what was written.
func TestHooksSeeEveryRecord(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "hooked"))
	h := newHookLog()
	p := ownProducer(t, c, WithLinger(time.Millisecond), WithBatchSize(2048),
		WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond), WithCompression(CompressionSnappy), WithHooks(h))
	ctx := ctxTimeout(t, 60*time.Second)
	l := newLedger(t)
	const n = 3000
	produce := []kmsg.Key{kmsg.Produce}
	for i := 0; i < n; i++ {
		if i == n/3 {
			c.Fault(kfake.Fault{Keys: produce, Topic: "hooked", Partitions: []int32{0}, Err: kerr.NotLeaderForPartition, Count: 3},
				kfake.Fault{Keys: produce, Topic: "hooked", Partitions: []int32{1}, Err: kerr.UnknownProducerID, Count: 1})
		}
		rec := l.record("hooked", i)
		rec.Partition, rec.PinPartition = int32(i%3), true
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(60 * time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	read := consume(t, c, "hooked", n)
	l.checkLog(read)
	for _, r := range read {
		if len(r.Headers) != 1 || r.Headers[0].Key != "hook-id" || string(r.Headers[0].Value) != string(r.Value) {
			t.Fatalf("record %s at %d/%d has headers %v; want the one OnSend added", r.Value, r.Partition, r.Offset, r.Headers)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sends != n || len(h.acks) != n {
		t.Fatalf("OnSend ran %d times and OnAck saw %d records; want %d each", h.sends, len(h.acks), n)
	}
	for id, k := range h.acks {
		if k != 1 {
			t.Fatalf("OnAck ran %d times for %s", k, id)
		}
	}
	if h.ctxWrong+h.mdWrong+h.ackErrs != 0 {
		t.Fatalf("OnAck: %d wrong contexts, %d wrong metadata, %d errors", h.ctxWrong, h.mdWrong, h.ackErrs)
	}
	for _, d := range h.latencies {
		if d <= 0 || d > time.Minute {
			t.Fatalf("OnAck latency %v", d)
		}
	}
	records := 0
	for _, b := range h.batches {
		records += b.Records
		if b.Topic != "hooked" || b.BaseOffset < 0 || b.Bytes <= 0 || b.UncompressedBytes <= 0 || b.Compression != CompressionSnappy || b.Broker < 0 {
			t.Fatalf("odd BatchWritten %+v", b)
		}
	}
	if records != n {
		t.Fatalf("BatchWritten counted %d records; want %d", records, n)
	}
	if len(h.retries) == 0 || len(h.resets) == 0 {
		t.Fatalf("%d retries and %d producer-id resets reported; the faults should cause both", len(h.retries), len(h.resets))
	}
	for _, r := range h.retries {
		if r.Err == nil || r.Records <= 0 {
			t.Fatalf("odd Retry %+v", r)
		}
	}
	for _, r := range h.resets {
		if r.ProducerID == r.PrevProducerID && r.Epoch == r.PrevEpoch {
			t.Fatalf("reset to the same id and epoch: %+v", r)
		}
	}
	m := p.Metrics()
	if got := int64(len(h.resets)); got != m.ProducerIDResets {
		t.Fatalf("%d resets reported to the hook, %d counted", got, m.ProducerIDResets)
	}
	if int64(h.sent["Produce"]) < m.RequestsSent || h.sent["Metadata"] == 0 || h.sent["InitProducerID"] == 0 {
		t.Fatalf("requests reported %v; the producer sent %d produce requests", h.sent, m.RequestsSent)
	}
	for api, k := range h.sent {
		if h.answered[api] != k {
			t.Fatalf("%s: %d sent, %d answered; every request must be answered once", api, k, h.answered[api])
		}
	}
}

// TestHooksRefusedRecord: a record refused before Send returns is answered
// to the ack hooks once, with the send hooks' context, before Send returns.
func TestHooksRefusedRecord(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	h := newHookLog()
	p := newTestProducer(t, c, WithHooks(h))
	rec := &Record{Topic: "t", Value: []byte("refused"), Partition: 3}
	_, err := p.Send(context.Background(), rec, nil).Get(context.Background())
	if !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Send: %v; want ErrInvalidRecord", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sends != 1 || h.acks["refused"] != 1 || h.ackErrs != 1 || h.ctxWrong != 0 {
		t.Fatalf("sends %d, acks %v, errors %d, wrong contexts %d", h.sends, h.acks, h.ackErrs, h.ctxWrong)
	}
}

// panicHook panics in every hook method.
type panicHook struct{}

func (panicHook) OnSend(context.Context, *Record) context.Context { panic("send") }
func (panicHook) OnAck(context.Context, Ack)                      { panic("ack") }
func (panicHook) OnBatchWritten(BatchWritten)                     { panic("batch") }
func (panicHook) OnRequestSent(RequestSent)                       { panic("sent") }
func (panicHook) OnRequestAnswered(RequestAnswered)               { panic("answered") }
func (panicHook) OnRetry(Retry)                                   { panic("retry") }
func (panicHook) OnProducerIDReset(ProducerIDReset)               { panic("reset") }

// TestHooksPanic: hooks that panic everywhere cost neither a record nor
// the process; the hooks after them still run and the panics are counted.
func TestHooksPanic(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "t"))
	h := newHookLog()
	p := ownProducer(t, c, WithLinger(time.Millisecond), WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond),
		WithHooks(panicHook{}, h))
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "t", Err: kerr.NotLeaderForPartition, Count: 2})
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const n = 200
	for i := 0; i < n; i++ {
		p.Send(ctx, l.record("t", i), l.callback(i))
	}
	l.wait(30 * time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "t", n))
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.acks) != n || h.ctxWrong != 0 {
		t.Fatalf("the hook after the panicking one saw %d of %d records (%d wrong contexts)", len(h.acks), n, h.ctxWrong)
	}
	if got := p.Metrics().CallbackPanics; got < 2*n {
		t.Fatalf("CallbackPanics %d; want at least one per record for OnSend and OnAck (%d)", got, 2*n)
	}
}

// TestWithHooksChecks: nil hooks are skipped; a value that is no hook is a
// configuration error, not a silent no-op.
func TestWithHooksChecks(t *testing.T) {
	if _, err := New(WithHooks(nil), WithHooks(42, "x")); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New(WithHooks(42)): %v; want ErrInvalidConfig", err)
	}
	p, err := New(WithHooks(nil))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close(context.Background())
}

// TestHooksSplitBatch: a batch split for MESSAGE_TOO_LARGE keeps each
// record with its own hook context.
func TestHooksSplitBatch(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "big"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
	h := newHookLog()
	p := ownProducer(t, c, WithLinger(50*time.Millisecond), WithBatchSize(64<<10), WithHooks(h))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const n = 60
	for i := 0; i < n; i++ {
		rec := l.record("big", i)
		rec.Value = append(rec.Value, make([]byte, 200)...)
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(30 * time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.acks) != n || h.ctxWrong != 0 || h.mdWrong != 0 {
		t.Fatalf("OnAck saw %d of %d records, %d with the wrong context", len(h.acks), n, h.ctxWrong)
	}
	if len(h.batches) < 2 {
		t.Fatalf("%d batches written; the batch should have been split", len(h.batches))
	}
}

// Both test hooks implement every hook interface: a signature that drifts
// fails to compile here rather than silently installing less.
var (
	_ interface {
		SendHook
		AckHook
		BatchHook
		RequestHook
		RetryHook
		ProducerIDHook
	} = (*hookLog)(nil)
	_ interface {
		SendHook
		AckHook
		BatchHook
		RequestHook
		RetryHook
		ProducerIDHook
	} = panicHook{}
)
