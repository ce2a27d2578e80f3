package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/internal/kafkatest"
)

// TestDriversInProcess runs every Go driver in this process (so the race
// detector watches the drivers' own code: slots, free lists, counters)
// against a blackhole kfake, a throughput phase and a paced one: every
// record is answered without error and the timed ones have latencies.
func TestDriversInProcess(t *testing.T) {
	c := kafkatest.NewFake(t, 1, kfake.BlackholeProduce())
	libs := []string{libKprod, libKprodNewRecord, libKprodSpoolAlways, libKprodSpoolNever, libKgo, libSarama, libSegmentio}
	if rdkafkaBuilt {
		libs = append(libs, libRdkafka)
	}
	for _, name := range []string{"a", "f"} {
		w := mustWorkload(t, name)
		topic := w.topicName("drivers")
		c.CreateTopic(t, topic, int32(w.topicPartitions(3)), 1, nil)
		for _, lib := range libs {
			t.Run(name+"/"+lib, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				gen := loadgen.New()
				d, err := newDriver(lib, driverConfig{w: w, brokers: c.Addrs(), topic: topic, partitions: w.topicPartitions(3),
					gen: gen, values: makeValues(w.valueSize), keys: makeKeys(w.keys)})
				if err != nil {
					t.Fatal(err)
				}
				send := func(i int64, s *loadgen.Slot) { d.send(ctx, i, s) }
				for _, load := range []loadgen.Load{{TimeEvery: 3}, {Rate: 5000, TimeEvery: 1}} {
					tl := loadgen.NewTally(1500)
					if err := gen.Run(ctx, tl, load, send); err != nil {
						t.Fatal(err)
					}
					if tl.Errors() > 0 || tl.Answered() != 1500 || tl.Quantile(0.5) <= 0 {
						t.Fatalf("%+v: answered %d, %d errors (%v), p50 %d", load, tl.Answered(), tl.Errors(), tl.FirstErr(), tl.Quantile(0.5))
					}
				}
				// Every Go client but librdkafka says how it batched.
				if recs, batches, reqs := d.counts(); lib != libRdkafka && (recs <= 0 || batches <= 0 || reqs <= 0 || reqs > batches) {
					t.Errorf("counts: %d records, %d batches, %d requests", recs, batches, reqs)
				}
				if err := d.close(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
