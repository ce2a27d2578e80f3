package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadOptions tune ReadRecords.
type ReadOptions struct {
	// ReadCommitted reads as an isolation.level=read_committed consumer:
	// records of open or aborted transactions are not returned.
	ReadCommitted bool
	// Timeout bounds the wait for want records (default 30 s).
	Timeout time.Duration
	// Settle is how long to keep reading after want records arrived, so a
	// duplicate beyond them would show (default 300 ms).
	Settle time.Duration
}

// ReadRecords reads topic from its start with franz-go's kgo consumer (a
// client that shares no code with kprod) until want records arrived, then a
// little longer, and returns all it read. The test fails if fewer arrive
// within the timeout.
func ReadRecords(t testing.TB, addrs []string, topic string, want int, o ReadOptions) []*kgo.Record {
	t.Helper()
	recs, err := ReadRecordsContext(context.Background(), addrs, topic, want, o)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// ReadRecordsContext is ReadRecords without a test.
func ReadRecordsContext(ctx context.Context, addrs []string, topic string, want int, o ReadOptions) ([]*kgo.Record, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 300 * time.Millisecond
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(4 << 20),
	}
	if o.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var out []*kgo.Record
	var fetchErrs []error
	for len(out) < want {
		fs := cl.PollFetches(wctx)
		if wctx.Err() != nil {
			return out, fmt.Errorf("kafkatest: read %d of %d records of %s in %v (fetch errors: %v)", len(out), want, topic, o.Timeout, fetchErrs)
		}
		fs.EachError(func(_ string, _ int32, err error) { fetchErrs = append(fetchErrs, err) })
		out = append(out, fs.Records()...)
	}
	sctx, scancel := context.WithTimeout(ctx, o.Settle)
	defer scancel()
	return append(out, cl.PollFetches(sctx).Records()...), nil
}

// EndOffsets returns the log end offset (the high watermark) of each
// partition of topic, as ListOffsets answers it: the count of offsets
// written, which catches a duplicate no consumer has read yet.
func EndOffsets(t testing.TB, addrs []string, topic string, partitions int32) []int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	out := make([]int64, partitions)
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			t.Fatalf("kafkatest: ListOffsets %s: %v", topic, shard.Err)
		}
		for _, rt := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					t.Fatalf("kafkatest: ListOffsets %s/%d: %v", topic, rp.Partition, err)
				}
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out
}
