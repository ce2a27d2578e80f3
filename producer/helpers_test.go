package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newCluster starts an in-process 3-broker cluster with the given topics
// (3 partitions each unless opts say otherwise) and stops it with the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newTestProducer builds a producer on the cluster and closes it with the test.
func newTestProducer(t testing.TB, c *kfake.Cluster, opts ...Opt) *Producer {
	t.Helper()
	p, err := New(append([]Opt{WithBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// consume reads want records of topic back with an independent client
// (franz-go's kgo consumer), failing the test if they do not all arrive.
func consume(t testing.TB, c *kfake.Cluster, topic string, want int, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	return consumeAddrs(t, c.ListenAddrs(), topic, want, 20*time.Second, extra...)
}

// consumeAddrs reads want records of topic from the brokers at addrs within
// timeout, then waits a moment for anything beyond: a duplicate would show
// up there.
func consumeAddrs(t testing.TB, addrs []string, topic string, want int, timeout time.Duration, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before timing out", len(out), want, topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		out = append(out, fs.Records()...)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	return append(out, cl.PollFetches(short).Records()...)
}

// readLog reads every record of topics back with an independent client
// (franz-go's kgo consumer), from the start of each partition up to the end
// of its log as ListOffsets gives it when readLog starts: records appended
// twice are read twice, and nothing is waited for that is not there. extra
// adds consumer options, e.g. readCommitted (aborted records are then left
// out; a partition whose last stable offset stays below its end, an open
// transaction, is reported when timeout passes). Control records are not
// returned. On timeout it returns what it read with an error naming the
// partitions it could not read to their end.
func readLog(addrs, topics []string, timeout time.Duration, extra ...kgo.Opt) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(), // markers end a partition read with read_committed
	}, extra...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ends, err := logEnds(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	type tp struct {
		t string
		p int32
	}
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
				left = append(left, fmt.Sprintf("%s/%d (end %d)", k.t, k.p, end))
			}
			return out, fmt.Errorf("read %d records in %v; partitions not read to their end: %s (last fetch error: %v)",
				len(out), timeout, strings.Join(left, ", "), lastErr)
		}
		fs.EachError(func(_ string, _ int32, err error) { lastErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			if end, ok := short[k]; ok && r.Offset >= end-1 {
				delete(short, k)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out, nil
}

// logEnds returns, per topic and partition, the end of the log (the high
// watermark), as the partition leaders answer ListOffsets.
func logEnds(ctx context.Context, cl *kgo.Client, topics []string) (map[string][]int64, error) {
	for attempt := 0; ; attempt++ {
		ends, err := tryLogEnds(ctx, cl, topics)
		if err == nil || attempt == 20 || ctx.Err() != nil {
			return ends, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tryLogEnds(ctx context.Context, cl *kgo.Client, topics []string) (map[string][]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		mreq.Topics = append(mreq.Topics, rt)
	}
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	ends := map[string][]int64{}
	for _, mt := range mresp.Topics {
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil || mt.Topic == nil {
			return nil, fmt.Errorf("metadata of %v: %v", mt.Topic, err)
		}
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = *mt.Topic
		for range mt.Partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = int32(len(rt.Partitions))
			rp.Timestamp = -1 // the end
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		ends[rt.Topic] = make([]int64, len(rt.Partitions))
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("ListOffsets %s/%d: %w", t.Topic, p.Partition, err)
			}
			ends[t.Topic][p.Partition] = p.Offset
		}
	}
	return ends, nil
}

// ledger tracks every Send of a test and its answers, to check the producer's
// contract: each record answered once, nothing lost, no duplicate, order per
// partition as sent.
type ledger struct {
	t  testing.TB
	mu sync.Mutex
	// per record id
	answers map[int]int
	meta    map[int]RecordMetadata
	errs    map[int]error
	sent    int
	wg      sync.WaitGroup
}

func newLedger(t testing.TB) *ledger {
	return &ledger{t: t, answers: map[int]int{}, meta: map[int]RecordMetadata{}, errs: map[int]error{}}
}

// record makes the record with id; its value names the id so a reader can
// tell records apart.
func (l *ledger) record(topic string, id int) *Record {
	return &Record{Topic: topic, Value: []byte("v-" + strconv.Itoa(id))}
}

// callback returns the callback for record id.
func (l *ledger) callback(id int) Callback {
	l.mu.Lock()
	l.sent++
	l.mu.Unlock()
	l.wg.Add(1)
	return func(md RecordMetadata, err error) {
		l.mu.Lock()
		l.answers[id]++
		if l.answers[id] == 1 {
			l.wg.Done()
		}
		l.meta[id] = md
		if err != nil {
			l.errs[id] = err
		}
		l.mu.Unlock()
	}
}

// wait waits for every record to be answered.
func (l *ledger) wait(d time.Duration) {
	l.t.Helper()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		l.mu.Lock()
		defer l.mu.Unlock()
		l.t.Fatalf("only %d of %d records answered after %v", len(l.answers), l.sent, d)
	}
}

// checkAnsweredOnce asserts every record got exactly one answer.
func (l *ledger) checkAnsweredOnce() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.answers) != l.sent {
		l.t.Fatalf("%d records answered, %d sent", len(l.answers), l.sent)
	}
	for id, n := range l.answers {
		if n != 1 {
			l.t.Fatalf("record %d answered %d times", id, n)
		}
	}
}

// checkLog compares what the reader saw with the answers: every record that
// succeeded is in the log exactly once, at the offset and partition it was
// told, and each partition holds records in the order they were sent (ids
// increasing when a test sends ids in order).
func (l *ledger) checkLog(read []*kgo.Record) {
	l.t.Helper()
	l.checkAnsweredOnce()
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[int]int{}
	lastID := map[int32]int{}
	for _, r := range read {
		id := valueID(l.t, r.Value)
		seen[id]++
		if seen[id] > 1 {
			l.t.Fatalf("record %d is in the log more than once (partition %d offset %d)", id, r.Partition, r.Offset)
		}
		if prev, ok := lastID[r.Partition]; ok && id < prev {
			l.t.Fatalf("partition %d: record %d after %d: order broken", r.Partition, id, prev)
		}
		lastID[r.Partition] = id
		if md, ok := l.meta[id]; ok && l.errs[id] == nil && md.Offset >= 0 {
			if md.Partition != r.Partition || md.Offset != r.Offset {
				l.t.Fatalf("record %d answered at %d/%d but is at %d/%d", id, md.Partition, md.Offset, r.Partition, r.Offset)
			}
		}
	}
	for id := range l.answers {
		if l.errs[id] == nil && seen[id] == 0 {
			l.t.Fatalf("record %d was acknowledged but is not in the log", id)
		}
	}
}

// checkAllFailed asserts that exactly want records failed, each with an
// error matching target.
func (l *ledger) checkAllFailed(target error, want int) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, err := range l.errs {
		if !errors.Is(err, target) {
			l.t.Fatalf("record %d: %v, want %v", id, err, target)
		}
	}
	if len(l.errs) != want {
		l.t.Fatalf("%d of %d records failed; want all of them to fail with %v", len(l.errs), want, target)
	}
}

// failed counts records answered with an error.
func (l *ledger) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

func valueID(t testing.TB, v []byte) int {
	s, ok := strings.CutPrefix(string(v), "v-")
	s, _, _ = strings.Cut(s, "|") // padding may follow
	if !ok {
		t.Fatalf("unexpected value %q", v)
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("unexpected value %q", v)
	}
	return id
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var _ = fmt.Sprint

// testLogger logs to the test's output when KPROD_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("KPROD_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// shuffleLeaders moves partition leaders around every period until the
// returned stop is called (it waits for the shuffling goroutine).
func shuffleLeaders(c *kfake.Cluster, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				c.ShufflePartitionLeaders()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// sendPaced sends records 0..n-1 round robin over the given number of
// partitions at about 20,000 records/s, so a run spans many faults and
// leader moves, then waits for every answer.
func sendPaced(t testing.TB, p *Producer, l *ledger, topic string, n, partitions int, wait time.Duration) {
	t.Helper()
	ctx := ctxTimeout(t, wait+time.Minute)
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	for i := range n {
		if i%200 == 0 {
			<-pace.C
		}
		rec := l.record(topic, i)
		rec.Partition, rec.PinPartition = int32(i%partitions), true
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(wait)
}

// allStacks is every goroutine's stack, as runtime.Stack prints them.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
