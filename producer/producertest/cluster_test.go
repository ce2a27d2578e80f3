package producertest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/kafkatest/kprodtest"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// newProducer connects a producer to c, retrying fast, and closes it with
// the test (kprodtest.NewProducer).
func newProducer(t *testing.T, c *producertest.Cluster, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	return kprodtest.NewProducer(t, c.Addrs(), append([]producer.Opt{producer.WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond)}, opts...)...)
}

// sendAll sends n records to topic, pinned round robin over partitions,
// and fails the test unless every one is acknowledged; it returns the
// answers by record number.
func sendAll(t *testing.T, ctx context.Context, p *producer.Producer, topic string, n, partitions int) []producer.RecordMetadata {
	t.Helper()
	futs := make([]producer.Future, n)
	for i := range n {
		futs[i] = p.Send(ctx, &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "r%03d", i), Partition: int32(i % partitions), PinPartition: true}, nil)
	}
	out := make([]producer.RecordMetadata, n)
	for i, f := range futs {
		md, err := f.Get(ctx)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		out[i] = md
	}
	return out
}

// checkLanded reads topic back and checks every acknowledged record is
// there exactly once, at its acknowledged place.
func checkLanded(t *testing.T, ctx context.Context, c *producertest.Cluster, topic string, acked []producer.RecordMetadata) {
	t.Helper()
	recs, err := c.Records(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(acked) {
		t.Fatalf("%d records in %s, %d acknowledged", len(recs), topic, len(acked))
	}
	at := map[[2]int64]string{}
	for _, r := range recs {
		at[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
	}
	for i, md := range acked {
		if v := at[[2]int64{int64(md.Partition), md.Offset}]; v != fmt.Sprintf("r%03d", i) {
			t.Fatalf("record %d acknowledged at %d@%d, which holds %q", i, md.Partition, md.Offset, v)
		}
	}
}

func TestClusterRecordsReadBack(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("orders", 3))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	if recs, err := c.Records(ctx, "orders"); err != nil || len(recs) != 0 {
		t.Fatalf("empty topic: %v, %v", recs, err)
	}
	ts := time.UnixMilli(1_700_000_000_000)
	md, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Key: nil, Value: []byte("v"), Timestamp: ts,
		Headers: []producer.Header{{Key: "trace", Value: []byte("abc")}}, Partition: 1, PinPartition: true})
	if err != nil {
		t.Fatal(err)
	}
	acked := sendAll(t, ctx, p, "orders", 30, 3)
	recs, err := c.Records(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 31 {
		t.Fatalf("read %d records, want 31", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		a, b := recs[i-1], recs[i]
		if a.Partition > b.Partition || a.Partition == b.Partition && a.Offset >= b.Offset {
			t.Fatalf("records not sorted by partition and offset: %d@%d before %d@%d", a.Partition, a.Offset, b.Partition, b.Offset)
		}
	}
	first := recs[0]
	for _, r := range recs {
		if r.Partition == md.Partition && r.Offset == md.Offset {
			first = r
		}
	}
	if first.Key != nil || string(first.Value) != "v" || !first.Timestamp.Equal(ts) || len(first.Headers) != 1 ||
		first.Headers[0].Key != "trace" || string(first.Headers[0].Value) != "abc" || first.Topic != "orders" {
		t.Fatalf("record read back as %+v", first)
	}
	if _, err := c.Records(ctx, "missing"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("Records of a missing topic: %v", err)
	}
	at := map[[2]int64]string{}
	for _, r := range recs {
		at[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
	}
	for i, md := range acked {
		if v := at[[2]int64{int64(md.Partition), md.Offset}]; v != fmt.Sprintf("r%03d", i) {
			t.Fatalf("record %d acknowledged at %d@%d, which holds %q", i, md.Partition, md.Offset, v)
		}
	}
}

func TestClusterFailNextProduceRetriable(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 2))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	f := c.FailNextProduce("t", 3, kerr.NotLeaderForPartition)
	acked := sendAll(t, ctx, p, "t", 20, 2)
	if err := f.Wait(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if f.Hits() != 3 {
		t.Fatalf("fault struck %d requests, want 3", f.Hits())
	}
	if p.Metrics().RecordsRetried == 0 {
		t.Fatal("no record was retried")
	}
	checkLanded(t, ctx, c, "t", acked)
}

func TestClusterFailNextProduceNonRetriable(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 1), producertest.WithTopic("other", 1))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	f := c.FailNextProduce("t", 1, kerr.PolicyViolation)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "other", Value: []byte("x")}); err != nil {
		t.Fatalf("a record to another topic: %v", err)
	}
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte("x")}); !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("SendSync under the fault: %v, want POLICY_VIOLATION", err)
	}
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte("y")}); err != nil {
		t.Fatalf("SendSync after the fault: %v", err)
	}
	if f.Hits() != 1 {
		t.Fatalf("hits %d", f.Hits())
	}
	// n < 0 fails until Remove; n == 0 fails nothing.
	c.FailNextProduce("t", 0, kerr.PolicyViolation)
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte("z")}); err != nil {
		t.Fatalf("with a fault of 0 requests: %v", err)
	}
	forever := c.FailNextProduce("t", -1, kerr.InvalidRecord)
	for range 3 {
		if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte("x")}); !errors.Is(err, kerr.InvalidRecord) {
			t.Fatalf("under a lasting fault: %v", err)
		}
	}
	forever.Remove()
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte("x")}); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestClusterDropNextProduce(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 3))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	f := c.DropNextProduce(2)
	acked := sendAll(t, ctx, p, "t", 30, 3)
	if err := f.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	more := sendAll(t, ctx, p, "t", 3, 3) // nothing dropped any more
	if f.Hits() != 2 {
		t.Fatalf("hits %d, want 2", f.Hits())
	}
	recs, err := c.Records(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(acked)+len(more) {
		t.Fatalf("%d records in the log, %d acknowledged", len(recs), len(acked)+len(more))
	}
	if err := c.DropNextProduce(0).Wait(ctx, 1); err == nil {
		t.Fatal("waiting on a fault that strikes nothing returned nil")
	}
}

func TestClusterDropConnections(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 3))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	acked := sendAll(t, ctx, p, "t", 30, 3)
	stop := make(chan struct{})
	dropped := make(chan int)
	go func() {
		n := 0
		defer func() { dropped <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				c.DropConnections()
				n++
			}
		}
	}()
	futs := make([]producer.Future, 200)
	for i := range futs {
		futs[i] = p.Send(ctx, &producer.Record{Topic: "t", Value: fmt.Appendf(nil, "r%03d", 30+i), Partition: int32(i % 3), PinPartition: true}, nil)
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	for i, f := range futs {
		md, err := f.Get(ctx)
		if err != nil {
			t.Fatalf("record %d: %v", 30+i, err)
		}
		acked = append(acked, md)
	}
	close(stop)
	if n := <-dropped; n == 0 {
		t.Fatal("no connections were dropped")
	}
	checkLanded(t, ctx, c, "t", acked)
}

func TestClusterMoveLeaders(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 3))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	sendAll(t, ctx, p, "t", 9, 3)
	to := (c.LeaderOf("t", 0) + 1) % 3
	if err := c.MoveLeader("t", 0, to); err != nil {
		t.Fatal(err)
	}
	if got := c.LeaderOf("t", 0); got != to {
		t.Fatalf("leader of t/0 is %d after MoveLeader to %d", got, to)
	}
	if err := c.MoveLeader("t", 0, 9); err == nil {
		t.Fatal("MoveLeader to a broker that does not exist succeeded")
	}
	if c.LeaderOf("t", 7) != -1 {
		t.Fatal("LeaderOf a missing partition is not -1")
	}
	sendAll(t, ctx, p, "t", 9, 3)
	c.MoveLeaders()
	sendAll(t, ctx, p, "t", 9, 3)
	recs, err := c.Records(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 27 {
		t.Fatalf("%d records in the log, want 27", len(recs))
	}
}

// TestClusterStoppedLeaderProducerFindsNewLeader: when a partition's leader
// stops for good, the producer must ask who leads now instead of redialling
// the stopped broker until the periodic metadata refresh.
func TestClusterStoppedLeaderProducerFindsNewLeader(t *testing.T) {
	for victim := range int32(3) {
		c := producertest.NewCluster(t, producertest.WithTopic("t", 3))
		p := newProducer(t, c)
		ctx := kafkatest.Context(t, 30*time.Second)
		sendAll(t, ctx, p, "t", 9, 3)
		if err := c.StopBroker(victim); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		for part := range int32(3) {
			if _, err := p.SendSync(short, &producer.Record{Topic: "t", Value: []byte("x"), Partition: part, PinPartition: true}); err != nil {
				t.Fatalf("broker %d stopped: record to partition %d: %v", victim, part, err)
			}
		}
		cancel()
	}
}

func TestClusterStopAndStartBroker(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 3))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	sendAll(t, ctx, p, "t", 9, 3)
	victim := c.LeaderOf("t", 0)
	if err := c.StopBroker(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.StopBroker(victim); err == nil {
		t.Fatal("stopping a stopped broker succeeded")
	}
	if err := c.StopBroker(42); err == nil {
		t.Fatal("stopping a broker that does not exist succeeded")
	}
	if len(c.Addrs()) != 2 {
		t.Fatalf("%d brokers listed after stopping one", len(c.Addrs()))
	}
	if l := c.LeaderOf("t", 0); l == victim || l < 0 {
		t.Fatalf("t/0 is led by %d after its leader %d stopped", l, victim)
	}
	sendAll(t, ctx, p, "t", 9, 3)
	if err := c.StartBroker(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.StartBroker(victim); err == nil {
		t.Fatal("starting a running broker succeeded")
	}
	if len(c.Addrs()) != 3 {
		t.Fatalf("%d brokers listed after the restart", len(c.Addrs()))
	}
	sendAll(t, ctx, p, "t", 9, 3)
	recs, err := c.Records(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 27 {
		t.Fatalf("%d records in the log, want 27", len(recs))
	}
}

func TestClusterCommittedRecords(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("t", 2))
	p := newProducer(t, c, producer.WithTransactionalID("tx-1"))
	ctx := kafkatest.Context(t, 30*time.Second)
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	txn := func(commit bool, values ...string) {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			// SendSync: the records are in the log before the transaction
			// ends, so the aborted ones are there for read_uncommitted.
			if _, err := p.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte(v), Partition: int32(i % 2), PinPartition: true}); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if commit {
			err = p.CommitTransaction(ctx)
		} else {
			err = p.AbortTransaction(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	txn(true, "c1", "c2")
	txn(false, "a1", "a2")
	txn(true, "c3")
	all, err := c.Records(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	committed, err := c.CommittedRecords(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	values := func(rs []producertest.StoredRecord) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[string(r.Value)] = true
		}
		return m
	}
	if v := values(committed); len(committed) != 3 || !v["c1"] || !v["c2"] || !v["c3"] {
		t.Fatalf("read_committed read %v", v)
	}
	if v := values(all); len(all) != 5 || !v["a1"] || !v["a2"] {
		t.Fatalf("read_uncommitted read %v", v)
	}
}

func TestClusterAutoCreateAndClose(t *testing.T) {
	c := producertest.NewCluster(t, producertest.NumBrokers(1), producertest.AutoCreateTopics(2))
	p := newProducer(t, c)
	ctx := kafkatest.Context(t, 30*time.Second)
	md, err := p.SendSync(ctx, &producer.Record{Topic: "fresh", Value: []byte("v"), Partition: 1, PinPartition: true})
	if err != nil || md.Partition != 1 {
		t.Fatalf("send to an auto-created topic: %+v, %v", md, err)
	}
	if err := c.StopBroker(0); err == nil {
		t.Fatal("stopping the last broker succeeded")
	}
	addrs := c.Addrs()
	c.Close()
	c.Close()
	if conn, err := net.DialTimeout("tcp", addrs[0], time.Second); err == nil {
		conn.Close()
		t.Fatal("the closed cluster still accepts connections")
	}
}
