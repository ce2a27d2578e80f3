package realkafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// engines runs f once on the package's real Kafka and once on kfake, so a
// test shows where the two brokers differ.
func engines(t *testing.T, f func(t *testing.T, c kafkatest.Cluster)) {
	t.Run("kafka", func(t *testing.T) { f(t, cluster(t)) })
	t.Run("kfake", func(t *testing.T) { f(t, kafkatest.NewFake(t, 1)) })
}

// TestRejectedAmongAccepted pipelines, one record per batch on one
// partition, records the broker refuses among records it takes: timestamps
// more than log.message.timestamp.after.max.ms (1 h) ahead, and null keys
// on a compacted topic. Every refused record is answered with the broker's
// error; every other one is written once, in send order, where its answer
// says — the idempotent producer must not let a refused batch's sequence
// number stall or reorder the batches after it.
func TestRejectedAmongAccepted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		configs map[string]string
		bad     func(r *producer.Record)
		wantErr error
	}{
		{"future-timestamp", nil, func(r *producer.Record) { r.Timestamp = time.Now().Add(2 * time.Hour) }, kerr.InvalidTimestamp},
		{"compacted-null-key", map[string]string{"cleanup.policy": "compact"}, func(r *producer.Record) { r.Key = nil }, kerr.InvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, c kafkatest.Cluster) {
				topic := kafkatest.TopicName(t)
				c.CreateTopic(t, topic, 1, 1, tc.configs)
				p := newProducer(t, c, producer.WithBatchSize(0), producer.WithLinger(0), producer.WithDeliveryTimeout(30*time.Second))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				good := newBook(topic, producer.AcksAll)
				type badAnswer struct {
					n   int
					err error
				}
				badCh := make(chan badAnswer, 100)
				bads := 0
				for i := range 40 {
					id := fmt.Sprintf("r%d", i)
					r := &producer.Record{Topic: topic, Key: []byte(id), Value: []byte(id + "|")}
					if i%4 == 2 {
						tc.bad(r)
						bads++
						var answers int
						p.Send(ctx, r, func(_ producer.RecordMetadata, err error) {
							answers++
							badCh <- badAnswer{answers, err}
						})
						continue
					}
					good.send(ctx, p, id, r)
				}
				good.wait(t, time.Minute)
				accepted := 0
				for range bads {
					select {
					case a := <-badCh:
						if a.n != 1 {
							t.Errorf("a refused record answered %d times", a.n)
						}
						if a.err == nil {
							accepted++
						} else if !errors.Is(a.err, tc.wantErr) {
							t.Errorf("refused with %v, want %v", a.err, tc.wantErr)
						}
					case <-ctx.Done():
						t.Fatal("not every refused record was answered")
					}
				}
				want := len(good.sent)
				if accepted > 0 {
					t.Logf("%s took %d of %d records real Kafka refuses", c.Engine(), accepted, bads)
					want += accepted
				}
				if accepted > 0 && c.Engine() == kafkatest.EngineKafka {
					t.Fatalf("real Kafka took %d records it should refuse", accepted)
				}
				got := fromKgo(kafkatest.ReadRecords(t, c.Addrs(), topic, want, kafkatest.ReadOptions{}))
				var mine []read
				for _, r := range got {
					if good.owns(r) {
						mine = append(mine, r)
					}
				}
				good.check(t, "kgo", mine, nil)
			})
		})
	}
}

// TestLogAppendTime: on a topic with message.timestamp.type=LogAppendTime
// the broker stamps each batch; a record's answer carries that time, not
// the create time it was sent with, and readers see the same.
func TestLogAppendTime(t *testing.T) {
	engines(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.TopicName(t)
		c.CreateTopic(t, topic, 1, 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
		p := newProducer(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sent := time.UnixMilli(1_500_000_000_000)
		before := time.Now().Add(-time.Second)
		var mds []producer.RecordMetadata
		for i := range 3 {
			md, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i), Timestamp: sent})
			if err != nil {
				t.Fatal(err)
			}
			mds = append(mds, md)
		}
		recs := kafkatest.ReadRecords(t, c.Addrs(), topic, 3, kafkatest.ReadOptions{})
		if c.Engine() == kafkatest.EngineKfake && recs[0].Attrs.TimestampType() == 0 {
			// A difference, not a producer fault: kfake keeps the create
			// time on LogAppendTime topics (and answers with it).
			t.Skipf("kfake ignores message.timestamp.type=LogAppendTime (the log has CreateTime %v)", recs[0].Timestamp)
		}
		for i, r := range recs {
			md := mds[r.Offset]
			if r.Attrs.TimestampType() != 1 {
				t.Errorf("record %d: timestamp type %d in the log, want 1 (LogAppendTime)", i, r.Attrs.TimestampType())
			}
			if md.Timestamp.Before(before) || !md.Timestamp.Equal(r.Timestamp) {
				t.Errorf("record at offset %d answered with timestamp %v, the log has %v (sent %v)", r.Offset, md.Timestamp, r.Timestamp, sent)
			}
		}
	})
}
