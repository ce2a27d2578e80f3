//go:build unix

package producer_test

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kprod/kprod/producer"
)

// processCPU is the user + system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProduceThroughput sends b.N records with a callback each and
// waits until all are answered by the blackhole broker process: the
// producer end to end (append, close, finish, drain, answer, callbacks).
// It reports records/s and the producer process's CPU µs per record; the
// broker's CPU is not counted (it runs in its own process).
//
//	go test -run '^$' -bench ProduceThroughput -benchtime 2000000x ./producer
func BenchmarkProduceThroughput(b *testing.B) {
	for _, tc := range []struct {
		name      string
		valueSize int
		codec     producer.Compression
		opts      []producer.Opt
	}{
		{name: "100B/none", valueSize: 100, codec: producer.CompressionNone},
		{name: "100B/none/batch256KiB", valueSize: 100, codec: producer.CompressionNone, opts: []producer.Opt{producer.WithBatchSize(256 << 10)}},
		{name: "1KiB/lz4", valueSize: 1024, codec: producer.CompressionLZ4},
		{name: "1KiB/lz4/batch256KiB", valueSize: 1024, codec: producer.CompressionLZ4, opts: []producer.Opt{producer.WithBatchSize(256 << 10)}},
		{name: "100B/zstd", valueSize: 100, codec: producer.CompressionZstd},
		{name: "100B/zstd/batch256KiB", valueSize: 100, codec: producer.CompressionZstd, opts: []producer.Opt{producer.WithBatchSize(256 << 10)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := newBenchProducer(b, 3, append([]producer.Opt{producer.WithCompression(tc.codec)}, tc.opts...)...)
			ctx := context.Background()
			rec := &producer.Record{Topic: benchTopic, Value: benchValue(tc.valueSize)}
			var answered, failed atomic.Int64
			done := make(chan struct{})
			n := int64(b.N)
			cb := func(_ producer.RecordMetadata, err error) {
				if err != nil {
					failed.Add(1)
				}
				if answered.Add(1) == n {
					close(done)
				}
			}
			b.SetBytes(int64(tc.valueSize))
			b.ReportAllocs()
			cpu0 := processCPU(b)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				p.Send(ctx, rec, cb)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d records answered after 5 minutes", answered.Load(), n)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := processCPU(b) - cpu0
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d records failed", f)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/record")
			m := p.Metrics()
			if m.BatchesSent > 0 {
				b.ReportMetric(float64(m.RecordsSent)/float64(m.BatchesSent), "records/batch")
			}
		})
	}
}
