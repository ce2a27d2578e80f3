package producer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

var readCommitted = kgo.FetchIsolationLevel(kgo.ReadCommitted())

// txnFlows runs fn against a cluster speaking transactions v2 (KIP-890) and
// against one that only knows the classic flow (kafkatest.TxnFlows).
func txnFlows(t *testing.T, fn func(t *testing.T, opts ...kfake.Opt)) { kafkatest.TxnFlows(t, fn) }

func newTxnProducer(t *testing.T, c *kfake.Cluster, id string, opts ...Opt) *Producer {
	t.Helper()
	p := newTestProducer(t, c, append([]Opt{WithTransactionalID(id), WithLinger(5 * time.Millisecond)}, opts...)...)
	if err := p.InitTransactions(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTransactionCommitAndAbort(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		topics := []string{"ta", "tb", "tc"}
		c := newCluster(t, append(opts, kfake.SeedTopics(3, topics...))...)
		p := newTxnProducer(t, c, "tx-commit")
		ctx := ctxTimeout(t, 30*time.Second)
		l := newLedger(t)
		id := 0
		sendAll := func() {
			for _, topic := range topics {
				for part := int32(0); part < 3; part++ {
					for k := 0; k < 20; k++ {
						rec := l.record(topic, id)
						rec.Partition, rec.PinPartition = part, true
						p.Send(ctx, rec, l.callback(id))
						id++
					}
				}
			}
		}
		// 1: committed.
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		sendAll()
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		// 2: aborted.
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		abortedFrom := id
		sendAll()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.AbortTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		// 3: committed after the abort.
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		committedAgain := id
		sendAll()
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		l.wait(10 * time.Second)
		l.checkAnsweredOnce()
		for _, topic := range topics {
			read := consume(t, c, topic, 120, readCommitted)
			if len(read) != 120 {
				t.Fatalf("%s: read %d committed records, want 120", topic, len(read))
			}
			for _, r := range read {
				if id := valueID(t, r.Value); id >= abortedFrom && id < committedAgain {
					t.Fatalf("%s: record %d of the aborted transaction is visible", topic, id)
				}
			}
		}
	})
}

func TestAbortFailsUnsentRecords(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "unsent"))
	p := newTxnProducer(t, c, "tx-unsent", WithLinger(time.Minute))
	ctx := ctxTimeout(t, 30*time.Second)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	for i := 0; i < 100; i++ {
		p.Send(ctx, l.record("unsent", i), l.callback(i))
	}
	if err := p.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	l.wait(5 * time.Second)
	l.checkAnsweredOnce()
	for id, err := range l.errs {
		if !errors.Is(err, ErrAborted) {
			t.Fatalf("record %d: %v, want ErrAborted", id, err)
		}
	}
	if l.failed() != 100 {
		t.Fatalf("%d of 100 records failed", l.failed())
	}
}

func TestFailedRecordMakesTransactionAbortable(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c := newCluster(t, append(opts, kfake.SeedTopics(2, "bad"))...)
		p := newTxnProducer(t, c, "tx-bad")
		ctx := ctxTimeout(t, 30*time.Second)
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Partitions: []int32{1}, Err: kerr.InvalidRecord})
		_, err0 := p.Send(ctx, &Record{Topic: "bad", Value: []byte("v-0"), PinPartition: true, Partition: 0}, nil).Get(ctx)
		_, err1 := p.Send(ctx, &Record{Topic: "bad", Value: []byte("v-1"), PinPartition: true, Partition: 1}, nil).Get(ctx)
		if err0 != nil || !errors.Is(err1, kerr.InvalidRecord) {
			t.Fatalf("records: %v / %v", err0, err1)
		}
		if err := p.CommitTransaction(ctx); !errors.Is(err, ErrAbortable) {
			t.Fatalf("commit after a failed record: %v, want ErrAbortable", err)
		}
		if _, err := p.SendSync(ctx, &Record{Topic: "bad", Value: []byte("v-2")}); !errors.Is(err, ErrAbortable) {
			t.Fatalf("send in an abortable transaction: %v", err)
		}
		if err := p.AbortTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 3; i < 13; i++ {
			p.Send(ctx, &Record{Topic: "bad", Value: []byte(fmt.Sprint("v-", i)), PinPartition: true, Partition: int32(i % 2)}, nil)
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatalf("the transaction after the abort: %v", err)
		}
		read := consume(t, c, "bad", 10, readCommitted)
		for _, r := range read {
			if id := valueID(t, r.Value); id < 3 {
				t.Fatalf("record %d of the aborted transaction is visible", id)
			}
		}
	})
}

func TestZombieFencing(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c := newCluster(t, append(opts, kfake.SeedTopics(3, "zombie"))...)
		ctx := ctxTimeout(t, 30*time.Second)
		old := newTxnProducer(t, c, "tx-zombie")
		if err := old.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if _, err := old.SendSync(ctx, &Record{Topic: "zombie", Value: []byte("v-0")}); err != nil {
			t.Fatal(err)
		}
		// The replacement starts: the old one's open transaction is aborted
		// and the old one is fenced.
		repl := newTxnProducer(t, c, "tx-zombie")
		_, sendErr := old.SendSync(ctx, &Record{Topic: "zombie", Value: []byte("v-1")})
		commitErr := old.CommitTransaction(ctx)
		if sendErr == nil || commitErr == nil {
			t.Fatalf("the old producer still writes: send %v, commit %v", sendErr, commitErr)
		}
		if !errors.Is(sendErr, ErrFenced) && !errors.Is(commitErr, ErrFenced) {
			// A classic broker may only say the transaction is gone
			// (INVALID_TXN_STATE): the transaction is abortable, and the
			// coordinator says fenced when the old producer tries to abort.
			if err := old.AbortTransaction(ctx); !errors.Is(err, ErrFenced) {
				t.Fatalf("old producer not fenced: send %v, commit %v, abort %v", sendErr, commitErr, err)
			}
		}
		if err := old.BeginTransaction(); err == nil {
			t.Fatal("a fenced producer began a transaction")
		}
		if err := repl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if _, err := repl.SendSync(ctx, &Record{Topic: "zombie", Value: []byte("v-2")}); err != nil {
			t.Fatal(err)
		}
		if err := repl.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		read := consume(t, c, "zombie", 1, readCommitted)
		if len(read) != 1 || string(read[0].Value) != "v-2" {
			t.Fatalf("read_committed sees %d records (first %q), want only the replacement's", len(read), read[0].Value)
		}
	})
}

func TestTransactionalCallsOutOfOrder(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "order"))
	ctx := ctxTimeout(t, 20*time.Second)
	plain := newTestProducer(t, c)
	if err := plain.BeginTransaction(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("begin without a transactional id: %v", err)
	}
	p := newTestProducer(t, c, WithTransactionalID("tx-order"))
	if err := p.BeginTransaction(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("begin before init: %v", err)
	}
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "order"}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("send outside a transaction: %v", err)
	}
	if err := p.CommitTransaction(ctx); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("commit without begin: %v", err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("begin twice: %v", err)
	}
	_ = context.Background
}

func TestEmptyTransactions(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c := newCluster(t, append(opts, kfake.SeedTopics(1, "empty"))...)
		p := newTxnProducer(t, c, "tx-empty")
		ctx := ctxTimeout(t, 20*time.Second)
		for i := 0; i < 3; i++ {
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := p.CommitTransaction(ctx); err != nil {
				t.Fatalf("empty commit: %v", err)
			}
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := p.AbortTransaction(ctx); err != nil {
				t.Fatalf("empty abort: %v", err)
			}
		}
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.SendSync(ctx, &Record{Topic: "empty", Value: []byte("v-1")}); err != nil {
			t.Fatal(err)
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if got := consume(t, c, "empty", 1, readCommitted); len(got) != 1 {
			t.Fatalf("read %d", len(got))
		}
	})
}

func TestRefusedRecordMakesTransactionAbortable(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "refused"))
	p := newTxnProducer(t, c, "tx-refused", WithMaxRequestSize(1<<20))
	ctx := ctxTimeout(t, 20*time.Second)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	p.Send(ctx, &Record{Topic: "refused", Value: []byte("v-0")}, nil)
	if _, err := p.Send(ctx, &Record{Topic: "refused", Value: make([]byte, 2<<20)}, nil).Get(ctx); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("too large record: %v", err)
	}
	if err := p.CommitTransaction(ctx); !errors.Is(err, ErrAbortable) {
		t.Fatalf("commit without a refused record: %v, want ErrAbortable", err)
	}
	if err := p.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
}
