package kprodprom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kprod/kprod/kprodprom"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// BenchmarkOnAck is the adapter's cost per record: one OnAck for a topic
// already seen, acknowledged or failed, alone and from every core at once.
func BenchmarkOnAck(b *testing.B) {
	m := kprodprom.New()
	prometheus.NewRegistry().MustRegister(m)
	ctx := context.Background()
	rec := &producer.Record{Topic: "orders", Key: []byte("key"), Value: make([]byte, 100),
		Headers: []producer.Header{{Key: "trace", Value: make([]byte, 16)}}}
	acked := producer.Ack{Record: rec, Metadata: producer.RecordMetadata{Topic: "orders", Partition: 2, Offset: 1},
		Latency: 3 * time.Millisecond, Size: 130}
	m.OnAck(ctx, acked)
	b.Run("acked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.OnAck(ctx, acked)
		}
	})
	b.Run("failed", func(b *testing.B) {
		failed := acked
		failed.Err = errors.New("boom")
		b.ReportAllocs()
		for b.Loop() {
			m.OnAck(ctx, failed)
		}
	})
	b.Run("acked-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.OnAck(ctx, acked)
			}
		})
	})
}

// BenchmarkSend sends 100-byte records to an embedded one-broker cluster
// with and without the adapter installed; the difference is what the
// hooks cost a real Send loop (the in-process broker shares the CPU, so
// compare the two in one run).
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		hooked bool
	}{{"no-hooks", false}, {"kprodprom", true}} {
		b.Run(bc.name, func(b *testing.B) {
			c := producertest.NewCluster(b, producertest.WithTopic("bench", 3), producertest.NumBrokers(1))
			opts := []producer.Opt{producer.WithBrokers(c.Addrs()...), producer.WithLinger(5 * time.Millisecond)}
			if bc.hooked {
				m := kprodprom.New()
				prometheus.NewRegistry().MustRegister(m)
				opts = append(opts, producer.WithHooks(m))
			}
			p, err := producer.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			defer p.Close(ctx)
			rec := &producer.Record{Topic: "bench", Value: make([]byte, 100)}
			if _, err := p.SendSync(ctx, rec); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(rec.Value)))
			for b.Loop() {
				p.Send(ctx, rec, nil)
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
