package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/partitioner"
)

// sendN sends n records with ids 0..n-1 in order and waits for their answers.
func sendN(t *testing.T, p *Producer, l *ledger, topic string, n int) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	for i := 0; i < n; i++ {
		p.Send(ctx, l.record(topic, i), l.callback(i))
	}
	l.wait(30 * time.Second)
}

func TestAckLevels(t *testing.T) {
	for _, acks := range []Acks{AcksNone, AcksLeader, AcksAll} {
		t.Run(acks.String(), func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(3, "acks"))
			p := newTestProducer(t, c, WithAcks(acks))
			l := newLedger(t)
			sendN(t, p, l, "acks", 500)
			if f := l.failed(); f != 0 {
				t.Fatalf("%d records failed: %v", f, l.errs)
			}
			for id, md := range l.meta {
				if acks == AcksNone && md.Offset != -1 {
					t.Fatalf("acks=0: record %d got offset %d, want -1", id, md.Offset)
				}
				if acks != AcksNone && md.Offset < 0 {
					t.Fatalf("acks=%v: record %d has no offset", acks, id)
				}
			}
			l.checkLog(consume(t, c, "acks", 500))
			if acks != AcksAll && p.cfg.idempotence {
				t.Fatal("idempotence should turn itself off without acks=all")
			}
		})
	}
}

func TestCodecsReadBack(t *testing.T) {
	for _, codec := range []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(3, "codec"))
			p := newTestProducer(t, c, WithCompression(codec), WithLinger(20*time.Millisecond))
			l := newLedger(t)
			ctx := ctxTimeout(t, 30*time.Second)
			for i := 0; i < 2000; i++ {
				rec := l.record("codec", i)
				rec.Value = append(rec.Value, bytes.Repeat([]byte("|compressible"), 20)...)
				p.Send(ctx, rec, l.callback(i))
			}
			l.wait(30 * time.Second)
			if f := l.failed(); f != 0 {
				t.Fatalf("%d records failed: %v", f, l.errs)
			}
			l.checkLog(consume(t, c, "codec", 2000))
			m := p.Metrics()
			if codec != CompressionNone && m.CompressionRatio >= 1 {
				t.Errorf("compression ratio %.2f: batches were not compressed", m.CompressionRatio)
			}
		})
	}
}

func TestRecordFieldsRoundTrip(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "fields"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 30*time.Second)
	ts := time.UnixMilli(1_700_000_000_123)
	recs := []*Record{
		{Topic: "fields", Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts,
			Headers: []Header{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}, {Key: "h1", Value: []byte{}}}},
		{Topic: "fields", Key: nil, Value: nil, Timestamp: ts.Add(time.Second)},
		{Topic: "fields", Key: []byte{}, Value: []byte{}, Timestamp: ts.Add(-time.Hour)},
		{Topic: "fields", Key: []byte("pinned"), Value: bytes.Repeat([]byte{0xAB}, 100_000), Partition: 2, PinPartition: true},
	}
	metas := make([]RecordMetadata, len(recs))
	for i, r := range recs {
		md, err := p.SendSync(ctx, r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		metas[i] = md
	}
	if metas[3].Partition != 2 {
		t.Fatalf("pinned record went to partition %d", metas[3].Partition)
	}
	if want := partitioner.KeyPartition([]byte("k1"), 3); metas[0].Partition != want {
		t.Fatalf("keyed record went to %d, murmur2 says %d", metas[0].Partition, want)
	}
	if !metas[0].Timestamp.Equal(ts) {
		t.Fatalf("metadata timestamp %v, want %v", metas[0].Timestamp, ts)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("fields"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < len(recs) && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	for i, r := range recs {
		var g *kgo.Record
		for _, c := range got {
			if c.Partition == metas[i].Partition && c.Offset == metas[i].Offset {
				g = c
			}
		}
		if g == nil {
			t.Fatalf("record %d not found at %d/%d", i, metas[i].Partition, metas[i].Offset)
		}
		if (r.Key == nil) != (g.Key == nil) || !bytes.Equal(r.Key, g.Key) {
			t.Errorf("record %d key %q, read %q", i, r.Key, g.Key)
		}
		if (r.Value == nil) != (g.Value == nil) || !bytes.Equal(r.Value, g.Value) {
			t.Errorf("record %d value differs (nil %v vs %v, len %d vs %d)", i, r.Value == nil, g.Value == nil, len(r.Value), len(g.Value))
		}
		if !r.Timestamp.IsZero() && !g.Timestamp.Equal(r.Timestamp) {
			t.Errorf("record %d timestamp %v, read %v", i, r.Timestamp, g.Timestamp)
		}
		if len(r.Headers) != len(g.Headers) {
			t.Fatalf("record %d has %d headers, read %d", i, len(r.Headers), len(g.Headers))
		}
		for j, h := range r.Headers {
			if h.Key != g.Headers[j].Key || !bytes.Equal(h.Value, g.Headers[j].Value) || (h.Value == nil) != (g.Headers[j].Value == nil) {
				t.Errorf("record %d header %d: %q=%q, read %q=%q", i, j, h.Key, h.Value, g.Headers[j].Key, g.Headers[j].Value)
			}
		}
	}
}

func TestKeysLandWhereJavaPutsThem(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(7, "keys"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 30*time.Second)
	for i := 0; i < 200; i++ {
		key := []byte(fmt.Sprintf("key-%d", i))
		md, err := p.SendSync(ctx, &Record{Topic: "keys", Key: key, Value: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		if want := partitioner.ToPositive(partitioner.Murmur2(key)) % 7; md.Partition != want {
			t.Fatalf("key %q went to %d, Java puts it on %d", key, md.Partition, want)
		}
	}
}

func TestRecordTooLarge(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "big"))
	p := newTestProducer(t, c, WithMaxRequestSize(10_000))
	ctx := ctxTimeout(t, 10*time.Second)
	var cbErr error
	calls := 0
	f := p.Send(ctx, &Record{Topic: "big", Value: make([]byte, 20_000)}, func(_ RecordMetadata, err error) { calls++; cbErr = err })
	if calls != 1 || !errors.Is(cbErr, ErrRecordTooLarge) {
		t.Fatalf("callback called %d times with %v, want once with ErrRecordTooLarge", calls, cbErr)
	}
	if _, err := f.Get(ctx); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("future: %v", err)
	}
	// Other records are unaffected.
	if _, err := p.SendSync(ctx, &Record{Topic: "big", Value: make([]byte, 5_000)}); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputTypedErrors(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "ok"))
	p := newTestProducer(t, c, WithMaxBlock(time.Second))
	ctx := ctxTimeout(t, 10*time.Second)
	for _, tc := range []struct {
		name string
		rec  *Record
		want error
	}{
		{"nil record", nil, ErrInvalidRecord},
		{"empty topic", &Record{}, ErrInvalidRecord},
		{"bad topic name", &Record{Topic: "no spaces"}, ErrInvalidRecord},
		{"partition without PinPartition", &Record{Topic: "ok", Partition: 2}, ErrInvalidRecord},
		{"partition out of range", &Record{Topic: "ok", Partition: 5, PinPartition: true}, ErrInvalidRecord},
		{"negative partition", &Record{Topic: "ok", Partition: -1, PinPartition: true}, ErrInvalidRecord},
		{"unknown topic", &Record{Topic: "missing"}, ErrUnknownTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.SendSync(ctx, tc.rec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "ok", Value: []byte("fine")}); err != nil {
		t.Fatalf("a good record after bad ones: %v", err)
	}
}

func TestSendAfterClose(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := p.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestSyncSendDoesNotWaitOutLinger(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	p := newTestProducer(t, c, WithLinger(10*time.Second))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "t", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.SendSync(ctx, &Record{Topic: "t", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("sync send took %v with linger 10s", d)
	}
}

func TestTypedJSON(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "typed"))
	p := newTestProducer(t, c)
	type order struct {
		ID    int    `json:"id"`
		Item  string `json:"item"`
		Count int    `json:"count"`
	}
	tp := NewTyped[string, order](p, StringSerializer{}, JSONSerializer[order]{})
	ctx := ctxTimeout(t, 10*time.Second)
	md, err := tp.SendSync(ctx, TypedRecord[string, order]{Topic: "typed", Key: "user-1", Value: order{1, "tea", 2}})
	if err != nil {
		t.Fatal(err)
	}
	if want := partitioner.KeyPartition([]byte("user-1"), 3); md.Partition != want {
		t.Fatalf("partition %d, want %d", md.Partition, want)
	}
	recs := consume(t, c, "typed", 1)
	if string(recs[0].Value) != `{"id":1,"item":"tea","count":2}` || string(recs[0].Key) != "user-1" {
		t.Fatalf("read %q=%q", recs[0].Key, recs[0].Value)
	}
	bad := NewTyped[string, chan int](p, StringSerializer{}, JSONSerializer[chan int]{})
	if _, err := bad.SendSync(ctx, TypedRecord[string, chan int]{Topic: "typed", Value: make(chan int)}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("unserializable value: %v", err)
	}
}

func TestInterceptors(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "ic"))
	acks := make(chan error, 10)
	ic := InterceptorFuncs{
		Send: func(r *Record) *Record {
			cp := *r
			cp.Headers = append(append([]Header(nil), r.Headers...), Header{Key: "traced", Value: []byte("yes")})
			return &cp
		},
		Ack: func(_ RecordMetadata, err error) { acks <- err },
	}
	p := newTestProducer(t, c, WithInterceptors(ic))
	ctx := ctxTimeout(t, 10*time.Second)
	orig := &Record{Topic: "ic", Value: []byte("v")}
	if _, err := p.SendSync(ctx, orig); err != nil {
		t.Fatal(err)
	}
	if len(orig.Headers) != 0 {
		t.Fatal("interceptor result leaked into the caller's record")
	}
	if err := <-acks; err != nil {
		t.Fatal(err)
	}
	recs := consume(t, c, "ic", 1)
	if len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != "traced" {
		t.Fatalf("headers %v", recs[0].Headers)
	}
}

func TestPartitionsFor(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(4, "pf"))
	p := newTestProducer(t, c)
	parts, err := p.PartitionsFor(ctxTimeout(t, 10*time.Second), "pf")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 4 {
		t.Fatalf("%d partitions", len(parts))
	}
	for i, pi := range parts {
		if pi.Partition != int32(i) || pi.Leader < 0 {
			t.Fatalf("partition %d: %+v", i, pi)
		}
	}
	_ = context.Background
}

// TestOffsetsAcrossTopics sends to the same partition number of several
// topics in shared requests (Produce v13 names topics by id only): every
// record is answered with its own topic's offset.
func TestOffsetsAcrossTopics(t *testing.T) {
	topics := []string{"ot-a", "ot-b", "ot-c"}
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, topics...)) // one leader for all
	p := newTestProducer(t, c, WithLinger(20*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	ledgers := make([]*ledger, len(topics))
	for i := range ledgers {
		ledgers[i] = newLedger(t)
	}
	const rounds = 40
	for r := range rounds {
		for i, topic := range topics {
			// Topic i gets i+1 records a round, so the topics' offsets part ways.
			for k := range i + 1 {
				id := r*10 + k
				p.Send(ctx, ledgers[i].record(topic, id), ledgers[i].callback(id))
			}
		}
		if r%4 == 3 {
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m := p.Metrics(); m.BatchesSent <= m.RequestsSent {
		t.Fatalf("%d batches in %d requests: the topics never shared a request", m.BatchesSent, m.RequestsSent)
	}
	for i, topic := range topics {
		ledgers[i].wait(10 * time.Second)
		if f := ledgers[i].failed(); f != 0 {
			t.Fatalf("%s: %d records failed", topic, f)
		}
		ledgers[i].checkLog(consume(t, c, topic, rounds*(i+1)))
	}
}

// TestTimestampsFarApart sends records whose explicit timestamps lie years
// apart into one partition within one linger: a batch keeps its records'
// times relative to its first one, so such records go into batches of their
// own. Each callback reports its own record's timestamp, the reader sees the
// same, and nothing is lost or reordered.
func TestTimestampsFarApart(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "far"))
	p := newTestProducer(t, c, WithLinger(50*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	base := time.UnixMilli(1_700_000_000_123)
	stamps := []time.Time{
		base, base.Add(time.Second), base.Add(-40 * 24 * time.Hour), base.Add(-40*24*time.Hour + time.Millisecond),
		time.UnixMilli(0), base.Add(30 * 24 * time.Hour), {}, base,
	}
	l := newLedger(t)
	for i, ts := range stamps {
		rec := l.record("far", i)
		rec.Timestamp = ts
		p.Send(ctx, rec, l.callback(i))
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l.wait(10 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	if m := p.Metrics(); m.BatchesSent < 4 {
		t.Fatalf("%d batches: records about 40 days apart shared one", m.BatchesSent)
	} else if m.SendLatencyMax <= 0 || m.SendLatencyMax > 10*time.Second {
		t.Fatalf("send latency max %v: the per-record send times are off", m.SendLatencyMax)
	}
	read := consume(t, c, "far", len(stamps))
	l.checkLog(read)
	for _, r := range read {
		id := valueID(t, r.Value)
		l.mu.Lock()
		md := l.meta[id]
		l.mu.Unlock()
		if !md.Timestamp.Equal(r.Timestamp) {
			t.Errorf("record %d answered with timestamp %v, read %v", id, md.Timestamp, r.Timestamp)
		}
		if want := stamps[id]; !want.IsZero() && !r.Timestamp.Equal(want) {
			t.Errorf("record %d has timestamp %v, want %v", id, r.Timestamp, want)
		}
	}
}

// TestSendKeepsNoRecordPointer: a Record literal passed to Send does not
// escape to the heap (Send copies what it keeps and gives interceptors and
// hooks a copy of their own), so the natural loop allocates nothing per
// record once the producer is warm. With a hook installed, the copy is the
// one allocation.
func TestSendKeepsNoRecordPointer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	c := newCluster(t, kfake.SeedTopics(1, "stack"))
	for _, tc := range []struct {
		name string
		opts []Opt
		max  float64
	}{
		{"no hooks", nil, 0},
		{"ack hook", []Opt{WithHooks(ackOnly{})}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProducer(t, c, append([]Opt{WithLinger(time.Second), WithBatchSize(1 << 20)}, tc.opts...)...)
			ctx := context.Background()
			value := make([]byte, 10)
			if _, err := p.SendSync(ctx, &Record{Topic: "stack", Value: value}); err != nil {
				t.Fatal(err)
			}
			got := testing.AllocsPerRun(2000, func() {
				p.Send(ctx, &Record{Topic: "stack", Value: value}, nil)
			})
			if got > tc.max {
				t.Fatalf("%v allocations per Send; want at most %v", got, tc.max)
			}
		})
	}
}

// ackOnly is an ack hook that does nothing.
type ackOnly struct{}

func (ackOnly) OnAck(context.Context, Ack) {}
