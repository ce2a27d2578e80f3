package kafkatest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// AlsoTopics are read along with topic; want counts the records of all.
	AlsoTopics []string
	// ClientOpts are added to the consumer's options: TLS or SASL for a
	// secured cluster, a shorter fetch wait, ...
	ClientOpts []kgo.Opt
	// OnFetchError, when set, is told of each fetch error as it comes (to
	// log it, or to fail the test); either way the errors are named when
	// the read times out.
	OnFetchError func(topic string, partition int32, err error)
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
	cl, err := newConsumer(addrs, append([]string{topic}, o.AlsoTopics...), o.ReadCommitted,
		append([]kgo.Opt{kgo.FetchMaxPartitionBytes(4 << 20)}, o.ClientOpts...)...)
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
		fs.EachError(func(topic string, partition int32, err error) {
			fetchErrs = append(fetchErrs, err)
			if o.OnFetchError != nil {
				o.OnFetchError(topic, partition, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	sctx, scancel := context.WithTimeout(ctx, o.Settle)
	defer scancel()
	return append(out, cl.PollFetches(sctx).Records()...), nil
}

// LogOptions tune ReadLog.
type LogOptions struct {
	// ReadCommitted reads as a read_committed consumer: records of aborted
	// transactions are left out, and a transaction still open keeps its
	// partition from being read to its high watermark, so the read fails
	// when ctx ends (unless StopAtStable).
	ReadCommitted bool
	// StopAtStable, with ReadCommitted, ends each partition at its last
	// stable offset instead of its high watermark: open transactions are
	// not waited for.
	StopAtStable bool
	// OnlyBeforeEnd leaves out records at or past a partition's end that
	// come in the same fetch as those before it: what was written after
	// the read began. Without it they are returned.
	OnlyBeforeEnd bool
	// ClientOpts are added to the consumer's options (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// OnFetchError, when set, is told of each fetch error; an error it
	// returns ends the read with that error. Either way the last fetch
	// error is named if ctx ends first.
	OnFetchError func(topic string, partition int32, err error) error
}

// ReadLog reads every record of topics with franz-go's kgo consumer, from
// the start of each partition to the end of its log when ReadLog starts, as
// ListOffsets gives it: records appended twice are read twice, and nothing
// is waited for that is not there. Transaction markers are read (a
// partition often ends with one) but not returned. The records come in the
// order read, offset order within a partition. If ctx ends first, ReadLog
// returns what it read with an error naming the partitions not read to
// their end.
func ReadLog(ctx context.Context, addrs, topics []string, o LogOptions) ([]*kgo.Record, error) {
	// Markers are kept: they end a partition read with read_committed.
	cl, err := newConsumer(addrs, topics, o.ReadCommitted, append([]kgo.Opt{kgo.KeepControlRecords()}, o.ClientOpts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := logEnds(ctx, cl, topics, o.ReadCommitted && o.StopAtStable)
	if err != nil {
		return nil, err
	}
	type tp struct {
		t string
		p int32
	}
	next := map[tp]int64{}  // the offset after the last record read
	short := map[tp]int64{} // partition → its end, until read to it
	for t, ps := range ends {
		for p, end := range ps {
			if end > 0 {
				short[tp{t, int32(p)}] = end
			}
		}
	}
	var out []*kgo.Record
	var lastErr error
	for len(short) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			var left []string
			for k, end := range short {
				left = append(left, fmt.Sprintf("%s/%d (end %d, read to %d)", k.t, k.p, end, next[k]))
			}
			slices.Sort(left)
			return out, fmt.Errorf("kafkatest: read %d records; partitions not read to their end: %s (last fetch error: %v): %w",
				len(out), strings.Join(left, ", "), lastErr, ctx.Err())
		}
		var stop error
		fs.EachError(func(topic string, partition int32, err error) {
			lastErr = err
			if o.OnFetchError != nil && stop == nil {
				stop = o.OnFetchError(topic, partition, err)
			}
		})
		if stop != nil {
			return out, stop
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			next[k] = r.Offset + 1
			end := ends[r.Topic][r.Partition]
			if r.Offset >= end-1 {
				delete(short, k)
			}
			if r.Attrs.IsControl() || o.OnlyBeforeEnd && r.Offset >= end {
				return
			}
			out = append(out, r)
		})
	}
	return out, nil
}

// newConsumer is a kgo consumer of topics from the start of each
// partition, read_committed on request, with extra options after these.
func newConsumer(addrs, topics []string, readCommitted bool, extra ...kgo.Opt) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	return kgo.NewClient(append(opts, extra...)...)
}

// EndOffsets returns the log end offset (the high watermark) of each
// partition of topic, as ListOffsets answers it: the count of offsets
// written, which catches a duplicate no consumer has read yet.
func EndOffsets(t testing.TB, addrs []string, topic string, partitions int32) []int64 {
	t.Helper()
	cl, ctx, done := testAdmin(t, addrs, 30*time.Second)
	defer done()
	ends, err := listEnds(ctx, cl, map[string]int32{topic: partitions}, false)
	if err != nil {
		t.Fatal(err)
	}
	return ends[topic]
}

// logEnds returns, per topic and partition, where a reader stops: the high
// watermark, or with stable the last stable offset. It asks for the
// partitions in the metadata first, and tries again for a second while
// either answer is an error (a leader that just moved, a topic just made).
func logEnds(ctx context.Context, cl *kgo.Client, topics []string, stable bool) (map[string][]int64, error) {
	for attempt := 0; ; attempt++ {
		counts, err := partitionCounts(ctx, cl, topics)
		var ends map[string][]int64
		if err == nil {
			ends, err = listEnds(ctx, cl, counts, stable)
		}
		if err == nil || attempt == 20 || ctx.Err() != nil {
			return ends, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partitionCounts asks the metadata how many partitions each topic has.
func partitionCounts(ctx context.Context, cl *kgo.Client, topics []string) (map[string]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: metadata of %v: %w", topics, err)
	}
	counts := map[string]int32{}
	for _, mt := range resp.Topics {
		if mt.Topic == nil {
			return nil, fmt.Errorf("kafkatest: metadata of %v: a topic without a name", topics)
		}
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafkatest: metadata of %s: %w", *mt.Topic, err)
		}
		counts[*mt.Topic] = int32(len(mt.Partitions))
	}
	return counts, nil
}

// listEnds asks the partition leaders, with ListOffsets, for the end of
// each of the partitions counted: the high watermark, or with stable the
// last stable offset.
func listEnds(ctx context.Context, cl *kgo.Client, partitions map[string]int32, stable bool) (map[string][]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if stable {
		req.IsolationLevel = 1
	}
	ends := map[string][]int64{}
	for topic, n := range partitions {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := range n {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1 // -1: the end
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		ends[topic] = make([]int64, n)
	}
	answered := 0
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, fmt.Errorf("kafkatest: ListOffsets: %w", shard.Err)
		}
		for _, rt := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return nil, fmt.Errorf("kafkatest: ListOffsets %s/%d: %w", rt.Topic, rp.Partition, err)
				}
				ends[rt.Topic][rp.Partition] = rp.Offset
				answered++
			}
		}
	}
	if asked := len(slices.Concat(slices.Collect(maps.Values(ends))...)); answered != asked {
		return nil, fmt.Errorf("kafkatest: ListOffsets: %d of %d partitions answered", answered, asked)
	}
	return ends, nil
}
