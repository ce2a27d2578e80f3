package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/internal/kafkatest"
)

// BenchmarkPipeline runs the whole pipeline on an embedded cluster: one op
// is one input record consumed, transformed, written and committed with its
// offset, in transactions of up to 500 records. Filling the input is not
// timed.
func BenchmarkPipeline(b *testing.B) {
	c := kafkatest.NewFake(b, 3, kfake.SeedTopics(partitions, inTopic, outTopic)).Kfake()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := fillInput(ctx, c.ListenAddrs(), inTopic, 0, b.N); err != nil {
		b.Fatal(err)
	}
	cfg := config{brokers: c.ListenAddrs(), input: inTopic, output: outTopic, group: "bench", txnID: "bench", limit: b.N}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := run(ctx, cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.committed != b.N {
		b.Fatalf("committed %d of %d records", res.committed, b.N)
	}
	b.ReportMetric(float64(res.transactions), "txns")
}
