package batch_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/kafkatest"
)

// TestBrokerAcceptsBatches produces our batches, one per codec, idempotently
// stamped (the first one stamped twice), to an in-process broker that checks
// CRCs, attributes and sequence numbers, then reads them back with an
// independent consumer.
func TestBrokerAcceptsBatches(t *testing.T) {
	const topic = "batches"
	cluster := kafkatest.NewFake(t, 1, kfake.SeedTopics(1, topic)).Kfake()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	metaReq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	metaReq.Topics = append(metaReq.Topics, mt)
	meta, err := metaReq.RequestWith(ctx, cl)
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata: %v %+v", err, meta)
	}
	topicID := meta.Topics[0].TopicID

	initReq := kmsg.NewPtrInitProducerIDRequest()
	initResp, err := initReq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(initResp.ErrorCode); err != nil {
		t.Fatal(err)
	}
	pid, epoch := initResp.ProducerID, initResp.ProducerEpoch

	rng := rand.New(rand.NewPCG(31, 32))
	now := time.Now().UnixMilli()
	var want []rec
	for i, c := range allCodecs {
		recs := randomRecords(rng, 40, now)
		st := stamp{set: true, pid: pid, epoch: epoch, seq: int32(len(want))}
		if i == 0 {
			// A stale stamp first: re-stamping must leave no trace.
			st.seq = 999
		}
		b := build(t, recs, c.codec, batch.DefaultLevel, st)
		if i == 0 {
			b.Stamp(pid, epoch, 0, false)
		}

		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 0
		rp.Records = b.Bytes()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("%s: produce: %v", c.codec, err)
		}
		p := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			t.Fatalf("%s: broker refused the batch: %v (%v)", c.codec, err, p.ErrorMessage)
		}
		if p.BaseOffset != int64(len(want)) {
			t.Fatalf("%s: base offset %d, want %d", c.codec, p.BaseOffset, len(want))
		}
		want = append(want, recs...)
	}

	var got []rec
	for len(got) < len(want) {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(want), err)
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if r.ProducerID != pid || r.ProducerEpoch != epoch {
				t.Errorf("offset %d: producer %d/%d, want %d/%d", r.Offset, r.ProducerID, r.ProducerEpoch, pid, epoch)
			}
			g := rec{ts: r.Timestamp.UnixMilli(), key: r.Key, value: r.Value}
			for _, h := range r.Headers {
				g.headers = append(g.headers, batch.Header{Key: h.Key, Value: h.Value})
			}
			got = append(got, g)
		})
	}
	if err := sameRecords(got, want); err != nil {
		t.Fatal(err)
	}
}
