package producer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/producer"
)

// benchTopic is the topic every producer benchmark writes to.
const benchTopic = "bench"

// benchValue is a 100-byte value with some structure, like event data.
func benchValue(size int) []byte {
	v := fmt.Appendf(nil, `{"id":12345,"user":"u042917","event":"page_view","path":"/products/7781","text":"`)
	for i := 0; len(v) < size; i++ {
		v = fmt.Appendf(v, "w%d ", i*7919%1000)
	}
	v = v[:size]
	v[size-2], v[size-1] = '"', '}'
	return v
}

// newBenchProducer starts the broker process and a producer on it, warmed
// up (metadata, connection and producer id) by one synchronous send.
func newBenchProducer(b *testing.B, partitions int, opts ...producer.Opt) *producer.Producer {
	b.Helper()
	addrs := startBenchBroker(b, benchTopic, partitions)
	p, err := producer.New(append([]producer.Opt{producer.WithBrokers(addrs...)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			b.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.SendSync(ctx, &producer.Record{Topic: benchTopic, Value: []byte("warm-up")}); err != nil {
		b.Fatal(err)
	}
	return p
}

// flushBench waits (untimed) for everything sent to be answered.
func flushBench(b *testing.B, p *producer.Producer) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSend measures Send of a 100-byte record with no callback from one
// goroutine, default settings, 3 partitions: the caller's cost of
// partitioning and encoding into the accumulator. The sender drains to the
// broker meanwhile, so once buffer.memory is full the figure is the
// producer's sustained rate instead.
func BenchmarkSend(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", keyed), func(b *testing.B) {
			p := newBenchProducer(b, 3)
			ctx := context.Background()
			rec := &producer.Record{Topic: benchTopic, Value: benchValue(100)}
			keys := [][]byte{[]byte("user-1"), []byte("user-2"), []byte("user-3"), []byte("user-4")}
			var failed atomic.Int64
			cb := func(_ producer.RecordMetadata, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.SetBytes(100)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if keyed {
					rec.Key = keys[i&3]
				}
				p.Send(ctx, rec, cb)
			}
			flushBench(b, p)
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
		})
	}
}

// countingHook is the least a hook can do: count sends and answers.
type countingHook struct{ sends, acks atomic.Int64 }

func (h *countingHook) OnSend(ctx context.Context, _ *producer.Record) context.Context {
	h.sends.Add(1)
	return ctx
}

func (h *countingHook) OnAck(context.Context, producer.Ack) { h.acks.Add(1) }

// BenchmarkSendHooked is BenchmarkSend (unkeyed) with a send and an ack
// hook installed: what hooks cost per record, next to BenchmarkSend's
// figure for none.
func BenchmarkSendHooked(b *testing.B) {
	h := new(countingHook)
	p := newBenchProducer(b, 3, producer.WithHooks(h))
	ctx := context.Background()
	rec := &producer.Record{Topic: benchTopic, Value: benchValue(100)}
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Send(ctx, rec, nil)
	}
	flushBench(b, p)
	if s, a := h.sends.Load(), h.acks.Load(); s < int64(b.N) || a != s {
		b.Fatalf("%d sends, %d acks for %d records", s, a, b.N)
	}
}

// BenchmarkSendParallel is BenchmarkSend from GOMAXPROCS goroutines at once:
// unkeyed records share the sticky partition (and its lock); keyed records
// spread over the partitions.
func BenchmarkSendParallel(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", keyed), func(b *testing.B) {
			p := newBenchProducer(b, 3)
			value := benchValue(100)
			var failed atomic.Int64
			cb := func(_ producer.RecordMetadata, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			var worker atomic.Int64
			b.SetBytes(100)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				rec := &producer.Record{Topic: benchTopic, Value: value}
				if keyed {
					rec.Key = fmt.Appendf(nil, "worker-%d", worker.Add(1))
				}
				for pb.Next() {
					p.Send(ctx, rec, cb)
				}
			})
			flushBench(b, p)
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
		})
	}
}

// BenchmarkSendSync measures one synchronous round trip: Send, the batch
// going out at once, the broker's answer, the Future resolving.
func BenchmarkSendSync(b *testing.B) {
	p := newBenchProducer(b, 1)
	ctx := context.Background()
	rec := &producer.Record{Topic: benchTopic, Value: benchValue(100)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.SendSync(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendNaturalLoop is the loop a user writes: a fresh Record
// literal per Send. The literal stays on the caller's stack (Send keeps no
// pointer to it), so the loop costs what BenchmarkSend costs.
func BenchmarkSendNaturalLoop(b *testing.B) {
	p := newBenchProducer(b, 3)
	ctx := context.Background()
	value := benchValue(100)
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Send(ctx, &producer.Record{Topic: benchTopic, Value: value}, nil)
	}
	flushBench(b, p)
}

// BenchmarkAppendOnly measures the caller's Send path alone (partitioning
// and encoding into the open batch): linger and memory so large that nothing
// is sent during the loop, so no sender or broker work mixes in.
func BenchmarkAppendOnly(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.ListenAddrs()...), producer.WithLinger(time.Hour), producer.WithDeliveryTimeout(2*time.Hour),
		producer.WithBatchSize(1<<20), producer.WithBufferMemory(4<<30), producer.WithMaxRequestSize(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	value := make([]byte, 100)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: value}); err != nil {
		b.Fatal(err)
	}
	rec := &producer.Record{Topic: "t", Value: value}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Send(ctx, rec, nil)
	}
}
