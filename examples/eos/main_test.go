package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

const (
	inputRecords = 5000
	inTopic      = "in"
	outTopic     = "out"
	partitions   = 3
)

// cluster starts a 3-broker cluster (kafkatest's kfake engine) with both
// topics, closed with the test, and the test's deadline.
func cluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, context.Context) {
	t.Helper()
	c := kafkatest.NewFake(t, 3, append([]kfake.Opt{kfake.SeedTopics(partitions, inTopic, outTopic)}, opts...)...).Kfake()
	return c, kafkatest.Context(t, 25*time.Second)
}

// setup starts a cluster and fills the input.
func setup(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, context.Context) {
	t.Helper()
	c, ctx := cluster(t, opts...)
	if err := fillInput(ctx, c.ListenAddrs(), inTopic, 0, inputRecords); err != nil {
		t.Fatal(err)
	}
	return c, ctx
}

// brokers is what the helpers below need of a cluster: a *kfake.Cluster,
// or real Kafka through kafkaBrokers (kafka_test.go).
type brokers interface{ ListenAddrs() []string }

// testConfig is an instance of the pipeline on c.
func testConfig(c brokers, txnID string) config {
	cfg := config{brokers: c.ListenAddrs(), input: inTopic, output: outTopic, group: "eos", txnID: txnID, maxPerTxn: 200}
	if os.Getenv("EOS_TEST_LOG") != "" {
		cfg.log = os.Stderr
	}
	return cfg
}

// TestCrashMidTransaction kills instance A in the middle of a transaction,
// after it has committed about 1,500 records and with the open transaction's
// records already in the output log; instance B starts with the same
// transactional id and group and finishes. Every input record must be in
// the committed output exactly once, in input order per partition, and the
// dead transaction's records must be in the log but hidden.
func TestCrashMidTransaction(t *testing.T) {
	kafkatest.TxnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c, ctx := setup(t, opts...)

		actx, kill := context.WithCancel(ctx)
		defer kill()
		a := testConfig(c, "eos-1")
		var open atomic.Int64 // records of the transaction A died in
		var endTxn *kfake.FaultHandle
		a.beforeCommit = func(p *producer.Producer, committed, pending int) {
			if committed < 1500 || open.Load() > 0 {
				return
			}
			// Put the open transaction's records in the log, then die.
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := p.Flush(fctx); err != nil {
				t.Errorf("flush before the crash: %v", err)
			}
			open.Store(int64(pending))
			// From now on, count the transaction's endings: a crash has none.
			endTxn = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TxnID: "eos-1", Observe: true, Count: -1})
			kill()
		}
		resA, err := run(actx, a)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("A: %v, want it killed", err)
		}
		if endTxn == nil {
			t.Fatal("A was never killed")
		}
		if n := endTxn.Hits(); n != 0 {
			t.Fatalf("A sent %d EndTxn requests while dying: it must leave its transaction open", n)
		}
		endTxn.Remove()
		if open.Load() == 0 || resA.committed < 1500 || resA.committed >= inputRecords {
			t.Fatalf("A committed %d records and died with %d open: the crash came at the wrong time", resA.committed, open.Load())
		}
		t.Logf("A committed %d records in %d transactions, died with %d records in an open transaction", resA.committed, resA.transactions, open.Load())

		b := testConfig(c, "eos-1")
		b.limit = inputRecords - resA.committed
		resB, err := run(ctx, b)
		if err != nil {
			t.Fatalf("B: %v", err)
		}
		t.Logf("B committed %d records in %d transactions", resB.committed, resB.transactions)

		checkExactlyOnce(ctx, t, c)
		if n := countAll(readTopic(ctx, t, c, outTopic, kgo.ReadUncommitted())); n != inputRecords+int(open.Load()) {
			t.Fatalf("the output log holds %d records, want %d committed + %d of the dead transaction", n, inputRecords, open.Load())
		}
	})
}

// TestZombieIsFenced pauses instance A just before a commit while B starts
// with the same transactional id: A, still alive, must be fenced and stop,
// and B must finish without anything of A's last transaction showing.
func TestZombieIsFenced(t *testing.T) {
	kafkatest.TxnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c, ctx := setup(t, opts...)

		paused := make(chan int, 1) // A's committed count when it paused
		fenced := make(chan struct{})
		a := testConfig(c, "eos-1")
		var once sync.Once
		a.beforeCommit = func(_ *producer.Producer, committed, _ int) {
			if committed < 1000 {
				return
			}
			once.Do(func() {
				paused <- committed
				select {
				case <-fenced:
				case <-ctx.Done():
				}
			})
		}
		type outcome struct {
			res result
			err error
		}
		aDone := make(chan outcome, 1)
		go func() {
			res, err := run(ctx, a)
			aDone <- outcome{res, err}
		}()

		var committedA int
		select {
		case committedA = <-paused:
		case o := <-aDone:
			t.Fatalf("A ended before pausing: %+v", o)
		}
		b := testConfig(c, "eos-1")
		b.limit = inputRecords - committedA
		b.afterInit = func() { close(fenced) }
		resB, errB := run(ctx, b)

		oa := <-aDone
		if !errors.Is(oa.err, producer.ErrFenced) {
			t.Fatalf("A: %v, want fenced", oa.err)
		}
		if oa.res.committed != committedA {
			t.Fatalf("A committed %d records after it was fenced", oa.res.committed-committedA)
		}
		if errB != nil {
			t.Fatalf("B: %v", errB)
		}
		t.Logf("A committed %d records, then was fenced (%v); B committed %d", committedA, oa.err, resB.committed)
		checkExactlyOnce(ctx, t, c)
	})
}

// TestAbortableErrorRewinds makes one produce request of the output fail
// midway: the transaction must be aborted, the consumer rewound, and the
// output still hold every input record exactly once.
func TestAbortableErrorRewinds(t *testing.T) {
	kafkatest.TxnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c, ctx := setup(t, opts...)
		cfg := testConfig(c, "eos-1")
		cfg.limit = inputRecords
		var installed bool
		cfg.beforeCommit = func(_ *producer.Producer, committed, _ int) {
			if committed >= 1000 && !installed {
				installed = true
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: outTopic, Err: kerr.InvalidRecord})
			}
		}
		res, err := run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.aborted == 0 || res.rewinds == 0 {
			t.Fatalf("%+v: no transaction was aborted and rewound", res)
		}
		t.Logf("%+v", res)
		checkExactlyOnce(ctx, t, c)
	})
}

// TestStopsAtLimit: an instance with a limit commits exactly that many
// records and stops cleanly.
func TestStopsAtLimit(t *testing.T) {
	c, ctx := setup(t)
	cfg := testConfig(c, "eos-limit")
	cfg.limit = 1234
	res, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.committed != 1234 {
		t.Fatalf("committed %d records, want exactly the limit 1234", res.committed)
	}
	out := readTopic(ctx, t, c, outTopic, kgo.ReadCommitted())
	if n := countAll(out); n != 1234 {
		t.Fatalf("%d records in the output, want 1234", n)
	}
}

// TestRefusedRecordIsNeverSkipped puts a record in the middle of the input
// that the pipeline's producer refuses (larger than its max.request.size).
// Send answers such a record at once and it never joins the transaction,
// so every transaction holding it must abort: the instance stalls on it,
// but never commits the records around it without it. The committed output
// must be, partition by partition, a prefix of the input that stops before
// that record.
func TestRefusedRecordIsNeverSkipped(t *testing.T) {
	c, ctx := cluster(t)
	if err := fillInput(ctx, c.ListenAddrs(), inTopic, 0, inputRecords/2); err != nil {
		t.Fatal(err)
	}
	w, err := producer.New(producer.WithBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	poison := append([]byte("poison-"), bytes.Repeat([]byte("x"), 4000)...)
	if _, err := w.SendSync(ctx, &producer.Record{Topic: inTopic, Key: []byte("poison"), Value: poison}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fillInput(ctx, c.ListenAddrs(), inTopic, inputRecords/2, inputRecords); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(c, "eos-poison")
	cfg.producerOpts = []producer.Opt{producer.WithMaxRequestSize(2048), producer.WithBatchSize(1024)}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := run(rctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run: %v, want it to stall on the refused record until its deadline", err)
	}
	if res.committed == 0 || res.aborted == 0 {
		t.Fatalf("%+v: want progress up to the refused record, then aborts", res)
	}
	t.Logf("%+v", res)
	// The instance stopped like a crash: the next one settles what it left.
	fence(ctx, t, c, "eos-poison")

	in := readTopic(ctx, t, c, inTopic, kgo.ReadUncommitted())
	out := readTopic(ctx, t, c, outTopic, kgo.ReadCommitted())
	total := 0
	for p := range int32(partitions) {
		if len(out[p]) > len(in[p]) {
			t.Fatalf("partition %d: %d records out, %d in", p, len(out[p]), len(in[p]))
		}
		for i, r := range out[p] {
			if want := bytes.ToUpper(in[p][i].Value); !bytes.Equal(r.Value, want) {
				t.Fatalf("partition %d: output %d is %.20q, want %.20q: the output is not a prefix of the input", p, i, r.Value, want)
			}
		}
		total += len(out[p])
	}
	if total != res.committed {
		t.Fatalf("%d records in the output, the instance committed %d", total, res.committed)
	}
}

// fence starts and closes a producer with txnID, which aborts whatever
// transaction a dead instance left open.
func fence(ctx context.Context, t *testing.T, c brokers, txnID string) {
	t.Helper()
	p, err := producer.New(producer.WithBrokers(c.ListenAddrs()...), producer.WithTransactionalID(txnID))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkExactlyOnce compares the committed output with the input partition
// by partition: the same sequence numbers in the same order (so none is
// missing, none doubled, none reordered), each upper-cased, each in the
// output partition of the same number as its input partition.
func checkExactlyOnce(ctx context.Context, t *testing.T, c brokers) {
	t.Helper()
	in := readTopic(ctx, t, c, inTopic, kgo.ReadUncommitted())
	out := readTopic(ctx, t, c, outTopic, kgo.ReadCommitted())
	if n := countAll(in); n != inputRecords {
		t.Fatalf("input holds %d records, want %d", n, inputRecords)
	}
	for p := range int32(partitions) {
		want := make([]int, 0, len(in[p]))
		for _, r := range in[p] {
			want = append(want, seqOf(t, r, "record-%06d"))
		}
		got := make([]int, 0, len(out[p]))
		for _, r := range out[p] {
			got = append(got, seqOf(t, r, "RECORD-%06d"))
			if i := got[len(got)-1]; string(r.Key) != string(inputKey(i)) {
				t.Fatalf("output record %d has key %q, want %q", i, r.Key, inputKey(i))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("partition %d: %s", p, describeDiff(got, want))
		}
	}
	if n := countAll(out); n != inputRecords {
		t.Fatalf("output holds %d committed records, want %d", n, inputRecords)
	}
}

// describeDiff says how got differs from want: what is missing, what is
// doubled, and where the order first breaks.
func describeDiff(got, want []int) string {
	seen := map[int]int{}
	for _, g := range got {
		seen[g]++
	}
	var missing, doubled []int
	for _, w := range want {
		if seen[w] == 0 {
			missing = append(missing, w)
		}
	}
	for g, n := range seen {
		if n > 1 {
			doubled = append(doubled, g)
		}
	}
	first := -1
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			first = i
			break
		}
	}
	return fmt.Sprintf("%d records in the output, %d in the input; missing %d (e.g. %v), doubled %d (e.g. %v), first difference at index %d",
		len(got), len(want), len(missing), head(missing), len(doubled), head(doubled), first)
}

func head(s []int) []int { return s[:min(len(s), 5)] }

// seqOf reads the sequence number out of a record's value.
func seqOf(t *testing.T, r *kgo.Record, format string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(string(r.Value), format, &i); err != nil {
		t.Fatalf("record %s[%d]@%d: value %q: %v", r.Topic, r.Partition, r.Offset, r.Value, err)
	}
	return i
}

func countAll(m map[int32][]*kgo.Record) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}

// readTopic reads every partition of topic to its end at the given
// isolation level (kafkatest.ReadLog) and returns the data records per
// partition, in offset order. The end is the high watermark when the read
// starts; with read_committed reaching it needs every transaction decided,
// so a transaction left open fails the test after 15 s. Fetch errors are
// logged as they come.
func readTopic(ctx context.Context, t *testing.T, c brokers, topic string, iso kgo.IsolationLevel) map[int32][]*kgo.Record {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadLog(rctx, c.ListenAddrs(), []string{topic}, kafkatest.LogOptions{
		ClientOpts: []kgo.Opt{kgo.FetchIsolationLevel(iso)},
		OnFetchError: func(topic string, p int32, err error) error {
			t.Logf("reading %s[%d]: %v", topic, p, err)
			return nil
		},
	})
	if err != nil {
		t.Fatalf("reading %s: %v (a transaction left open?)", topic, err)
	}
	out := map[int32][]*kgo.Record{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}
