package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// seqObserver records, per partition, the producer id, epoch, base sequence
// and record count of every batch the brokers receive.
type seqObserver struct {
	mu      sync.Mutex
	batches map[int32][]seenBatch
}

type seenBatch struct {
	pid   int64
	epoch int16
	seq   int32
	n     int32
}

func observeSequences(c *kfake.Cluster) *seqObserver {
	o := &seqObserver{batches: map[int32][]seenBatch{}}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, t := range pr.Topics { // Produce v13 names topics by id only: the test cluster has one topic
			for _, p := range t.Partitions {
				var rb kmsg.RecordBatch
				if rb.ReadFrom(p.Records) == nil {
					o.batches[p.Partition] = append(o.batches[p.Partition], seenBatch{rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence, rb.NumRecords})
				}
			}
		}
		return nil, nil, false
	})
	return o
}

// checkContiguous asserts that, per partition and producer id/epoch, base
// sequences start at 0 and each new batch starts where the previous ended;
// a batch seen again (a retry) carries the same sequence and count.
func (o *seqObserver) checkContiguous(t *testing.T) (batches, retries int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for part, bs := range o.batches {
		type key struct {
			pid   int64
			epoch int16
		}
		next := map[key]int32{}
		counts := map[key]map[int32]int32{}
		for _, b := range bs {
			k := key{b.pid, b.epoch}
			if b.pid < 0 {
				t.Fatalf("partition %d: batch without a producer id", part)
			}
			if counts[k] == nil {
				counts[k] = map[int32]int32{}
			}
			if n, seen := counts[k][b.seq]; seen {
				if n != b.n {
					t.Fatalf("partition %d: sequence %d resent with %d records, first had %d", part, b.seq, b.n, n)
				}
				retries++
				continue
			}
			if b.seq != next[k] && b.seq > next[k] {
				t.Fatalf("partition %d: %v epoch %d: sequence %d, want %d", part, b.pid, b.epoch, b.seq, next[k])
			}
			if b.seq < next[k] {
				t.Fatalf("partition %d: sequence %d went backwards (next %d) without a new epoch", part, b.seq, next[k])
			}
			counts[k][b.seq] = b.n
			next[k] = b.seq + b.n
			batches++
		}
	}
	return batches, retries
}

func TestIdempotentSequencesAsTheBrokerSeesThem(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "seq"))
	obs := observeSequences(c)
	p := newTestProducer(t, c, WithLinger(0), WithBatchSize(1024), WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond))
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "seq", Err: kerr.NotLeaderForPartition, Count: 3})
	l := newLedger(t)
	sendN(t, p, l, "seq", 3000)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d failed: %v", f, firstErr(l))
	}
	batches, retries := obs.checkContiguous(t)
	if batches < 10 || retries == 0 {
		t.Fatalf("%d batches, %d retries: the test did not exercise retries", batches, retries)
	}
	l.checkLog(consume(t, c, "seq", 3000))
}

// idempotentScenario sends records over 3 partitions with up to 5 requests in
// flight while fault (called once, after a quarter of the records) disturbs the
// cluster, then checks every invariant.
func idempotentScenario(t *testing.T, n int, clusterOpts []kfake.Opt, opts []Opt, fault func(c *kfake.Cluster)) *Producer {
	t.Helper()
	c := newCluster(t, append([]kfake.Opt{kfake.SeedTopics(3, "idem")}, clusterOpts...)...)
	p := newTestProducer(t, c, append([]Opt{WithLinger(0), WithBatchSize(2048),
		WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond), WithRequestTimeout(2 * time.Second)}, opts...)...)
	ctx := ctxTimeout(t, 60*time.Second)
	l := newLedger(t)
	for i := 0; i < n; i++ {
		if i == n/4 {
			fault(c)
		}
		rec := l.record("idem", i)
		rec.Partition, rec.PinPartition = int32(i%3), true
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(60 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "idem", n))
	return p
}

func TestIdempotentFaults(t *testing.T) {
	produce := []kmsg.Key{kmsg.Produce}
	errFault := func(err *kerr.Error, count int) func(*kfake.Cluster) {
		return func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: produce, Topic: "idem", Err: err, Count: count})
		}
	}
	for _, tc := range []struct {
		name        string
		clusterOpts []kfake.Opt
		opts        []Opt
		fault       func(*kfake.Cluster)
		wantReset   bool // a new epoch is required (otherwise either is fine)
		noRetry     bool // the fault causes no error, so nothing needs a retry
	}{
		{name: "not leader", fault: errFault(kerr.NotLeaderForPartition, 5)},
		{name: "leader not available", fault: errFault(kerr.LeaderNotAvailable, 5)},
		{name: "request timed out after append", fault: errFault(kerr.RequestTimedOut, 5)},
		{name: "not enough replicas", fault: errFault(kerr.NotEnoughReplicas, 5)},
		{name: "not enough replicas after append", fault: errFault(kerr.NotEnoughReplicasAfterAppend, 5)},
		{name: "out of order sequence", fault: errFault(kerr.OutOfOrderSequenceNumber, 2)},
		{name: "unknown producer id", fault: errFault(kerr.UnknownProducerID, 2), wantReset: true},
		{name: "connection closed mid-flight", fault: func(c *kfake.Cluster) {
			var left atomic.Int32
			left.Store(3)
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				if left.Add(-1) < 0 {
					return nil, nil, false
				}
				c.KeepControl()
				return nil, errors.New("dropped"), true
			})
		}},
		{name: "response never sent", opts: []Opt{WithRequestTimeout(300 * time.Millisecond)}, fault: func(c *kfake.Cluster) {
			var left atomic.Int32
			left.Store(2)
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				if left.Add(-1) < 0 {
					return nil, nil, false
				}
				c.KeepControl()
				return nil, nil, true // swallowed: no answer ever comes
			})
		}},
		{name: "responses out of order", noRetry: true, clusterOpts: []kfake.Opt{kfake.SleepOutOfOrder()}, fault: func(c *kfake.Cluster) {
			var n atomic.Int32
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				if n.Add(1) > 20 {
					return nil, nil, false
				}
				c.KeepControl()
				if n.Load()%4 == 1 {
					c.SleepControl(func() { time.Sleep(20 * time.Millisecond) })
				}
				return nil, nil, false
			})
		}},
		{name: "epoch bump while a timed-out batch may be in the log", wantReset: true, fault: func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: produce, Topic: "idem", Partitions: []int32{0}, Err: kerr.RequestTimedOut, Count: 3},
				kfake.Fault{Keys: produce, Topic: "idem", Partitions: []int32{1}, Err: kerr.UnknownProducerID, Count: 1})
		}},
		{name: "leader moved", fault: func(c *kfake.Cluster) {
			for part := int32(0); part < 3; part++ {
				_ = c.MoveTopicPartition("idem", part, (c.LeaderFor("idem", part)+1)%3)
			}
		}},
		{name: "leaders shuffled", noRetry: true, fault: func(c *kfake.Cluster) { c.ShufflePartitionLeaders() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := idempotentScenario(t, 6000, tc.clusterOpts, tc.opts, tc.fault)
			m := p.Metrics()
			if tc.wantReset && m.ProducerIDResets == 0 {
				t.Errorf("no new epoch after %s", tc.name)
			}
			if !tc.noRetry && m.RecordsRetried == 0 && m.ProducerIDResets == 0 {
				t.Errorf("nothing was retried: the fault did not hit")
			}
		})
	}
}

// soak sends n records over 6 partitions while leaders are shuffled every
// ~100ms and a retriable fault hits about every 50th produce request. It
// returns how many records the log holds more than once.
func soak(t *testing.T, n int, idempotent bool) (dups int) {
	c := newCluster(t, kfake.SeedTopics(6, "soak"))
	p := newTestProducer(t, c, WithIdempotence(idempotent), WithLinger(2*time.Millisecond), WithBatchSize(4096),
		WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond), WithRequestTimeout(5*time.Second))
	var reqs atomic.Int64
	faults := []*kerr.Error{kerr.RequestTimedOut, kerr.NotLeaderForPartition, kerr.NotEnoughReplicasAfterAppend, kerr.NotEnoughReplicas}
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if r := reqs.Add(1); r%50 == 0 {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "soak", Err: faults[(r/50)%int64(len(faults))]})
		}
		return nil, nil, false
	})
	stopShuffle := shuffleLeaders(c, 100*time.Millisecond)
	l := newLedger(t)
	sendPaced(t, p, l, "soak", n, 6, 90*time.Second)
	stopShuffle()
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	read := consume(t, c, "soak", n)
	seen := map[int]int{}
	for _, r := range read {
		if seen[valueID(t, r.Value)]++; seen[valueID(t, r.Value)] == 2 {
			dups++
		}
	}
	if idempotent {
		l.checkLog(read)
	}
	m := p.Metrics()
	t.Logf("soak idempotent=%v: %d records, %d requests at the broker, %d faults, %d retried, %d duplicated in the log, %d id resets",
		idempotent, n, reqs.Load(), reqs.Load()/50, m.RecordsRetried, dups, m.ProducerIDResets)
	if reqs.Load() < int64(n/200) {
		t.Errorf("only %d produce requests: the soak did not stress anything", reqs.Load())
	}
	return dups
}

func TestIdempotentSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	start := time.Now()
	if dups := soak(t, 200_000, true); dups != 0 {
		t.Fatalf("%d duplicates with idempotence on", dups)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("soak took %v, want under a minute", d)
	}
}

func TestSoakWithoutIdempotenceDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	if dups := soak(t, 50_000, false); dups == 0 {
		t.Fatal("no duplicates without idempotence: the soak cannot tell the difference")
	}
}

var _ = fmt.Sprint
var _ = context.Background

func TestIdempotentSplitOfTooLargeBatch(t *testing.T) {
	// The broker takes at most 3000-byte batches; the producer builds 16 KiB
	// ones, so each is split (more than once) and sent with fresh sequences.
	c := newCluster(t, kfake.SeedTopics(2, "split"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
	obs := observeSequences(c)
	p := newTestProducer(t, c, WithLinger(50*time.Millisecond), WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	futs := make([]Future, 0, 1000)
	for i := 0; i < 1000; i++ {
		rec := l.record("split", i)
		rec.Value = append(rec.Value, '|')
		rec.Value = append(rec.Value, make([]byte, 100)...)
		rec.Partition, rec.PinPartition = int32(i%2), true
		futs = append(futs, p.Send(ctx, rec, l.callback(i)))
	}
	l.wait(30 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d failed: %v", f, firstErr(l))
	}
	for i, f := range futs {
		md, err := f.Get(ctx)
		if err != nil || md.Offset < 0 || md.Partition != int32(i%2) {
			t.Fatalf("future %d: %+v %v", i, md, err)
		}
		if cb := l.meta[i]; cb.Offset != md.Offset {
			t.Fatalf("record %d: callback says offset %d, future %d", i, cb.Offset, md.Offset)
		}
	}
	l.checkLog(consume(t, c, "split", 1000))
	obs.checkContiguous(t)
	if m := p.Metrics(); m.ProducerIDResets == 0 {
		t.Fatal("no batch was split")
	}
}
