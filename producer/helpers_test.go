package producer

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/kafkatest"
)

// newCluster starts an in-process 3-broker cluster (kafkatest's kfake
// engine) with the given options and stops it with the test. Closing it
// earlier, as the leak tests do, is fine: Close may be called twice.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return kafkatest.NewFake(t, 3, opts...).Kfake()
}

// ownProducer is New on the cluster, without the cleanup, for tests that
// close it themselves.
func ownProducer(t testing.TB, c *kfake.Cluster, opts ...Opt) *Producer {
	t.Helper()
	p, err := New(append([]Opt{WithBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestProducer builds a producer on the cluster and closes it with the
// test; whatever that Close returns is the test's own business.
// (kprodtest.NewProducer, which the real-Kafka packages use, imports this
// package and so is out of reach of its in-package tests.)
func newTestProducer(t testing.TB, c *kfake.Cluster, opts ...Opt) *Producer {
	t.Helper()
	p := ownProducer(t, c, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// consume reads want records of topic back with an independent client
// (kafkatest.ReadRecords: franz-go's kgo consumer), failing the test if
// they do not all arrive within 20 s; extra adds consumer options (TLS,
// SASL, readCommitted).
func consume(t testing.TB, c *kfake.Cluster, topic string, want int, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	return consumeAddrs(t, c.ListenAddrs(), topic, want, 20*time.Second, extra...)
}

// consumeAddrs is consume from the brokers at addrs within timeout. After
// want records it reads on a moment: a duplicate would show up there.
// Fetch errors are logged as they come.
func consumeAddrs(t testing.TB, addrs []string, topic string, want int, timeout time.Duration, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	return kafkatest.ReadRecords(t, addrs, topic, want, kafkatest.ReadOptions{
		Timeout:      timeout,
		ClientOpts:   extra,
		OnFetchError: func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) },
	})
}

// readLog reads every record of topics back with an independent client, up
// to the end of each partition's log as it was when readLog started
// (kafkatest.ReadLog): records appended twice are read twice, and nothing
// is waited for that is not there. extra adds consumer options, e.g.
// readCommitted (aborted records are then left out; a partition whose last
// stable offset stays below its end, an open transaction, is reported
// when timeout passes). On timeout it returns what it read with an error
// naming the partitions it could not read to their end.
func readLog(addrs, topics []string, timeout time.Duration, extra ...kgo.Opt) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return kafkatest.ReadLog(ctx, addrs, topics, kafkatest.LogOptions{ClientOpts: extra})
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
	sent := l.sent
	l.mu.Unlock()
	l.checkAnswered(sent)
}

// checkAnswered asserts that want records were answered, each once.
func (l *ledger) checkAnswered(want int) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.answers) != want {
		l.t.Fatalf("%d records answered, %d sent", len(l.answers), want)
	}
	for id, n := range l.answers {
		if n != 1 {
			l.t.Fatalf("record %d answered %d times", id, n)
		}
	}
}

// checkAnsweredOrSkipped is checkAnsweredOnce after a Close that ended by
// its ctx: the callbacks that had not started when Close stopped waiting
// are skipped (Metrics.CallbacksSkipped; their Futures hold the outcome),
// so it waits up to d for answered and skipped records to add up to those
// sent, checks none was answered twice, and returns how many were answered.
func (l *ledger) checkAnsweredOrSkipped(p *Producer, d time.Duration) int {
	l.t.Helper()
	deadline := time.Now().Add(d)
	for {
		skipped := p.Metrics().CallbacksSkipped
		l.mu.Lock()
		answered, sent := len(l.answers), l.sent
		l.mu.Unlock()
		switch {
		case int64(answered)+skipped > int64(sent):
			l.t.Fatalf("%d records answered and %d callbacks skipped, %d sent", answered, skipped, sent)
		case int64(answered)+skipped == int64(sent):
			l.checkAnswered(answered)
			return answered
		case time.Now().After(deadline):
			l.t.Fatalf("%d records answered and %d callbacks skipped after %v, %d sent", answered, skipped, d, sent)
		}
		time.Sleep(5 * time.Millisecond)
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

// ctxTimeout is kafkatest.Context: a context that ends after d or with the
// test.
func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	return kafkatest.Context(t, d)
}

// testLogger is kafkatest.DebugLogger: a debug log to standard error with
// KPROD_TEST_DEBUG (or KPROD_TEST_LOG) set, nil otherwise.
func testLogger(testing.TB) *slog.Logger { return kafkatest.DebugLogger() }

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

// allStacks is every goroutine's stack (kafkatest.Stacks).
func allStacks() []byte { return kafkatest.Stacks() }
