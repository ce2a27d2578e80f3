package producer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

// TestManyTransactionsUnderFaults runs many transactions of random size over
// 3 topics × 3 partitions, aborting a random third, while the coordinators
// answer CONCURRENT_TRANSACTIONS and NOT_COORDINATOR, move, and lose EndTxn
// responses. A read_committed reader must see exactly the committed records,
// in order per partition.
func TestManyTransactionsUnderFaults(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 150
	}
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		topics := []string{"sa", "sb", "sc"}
		c := newCluster(t, append(opts, kfake.SeedTopics(3, topics...))...)
		// The response to the EndTxn after each Arm is lost: the broker
		// acts on the request, then the connection breaks before the
		// client reads the answer.
		dropper := &kafkatest.LossyDialer{Key: kmsg.EndTxn.Int16()}
		p := newTxnProducer(t, c, "tx-stress", WithDialer(dropper.Dial), WithLinger(time.Millisecond), WithLogger(testLogger(t)),
			WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond))
		ctx := ctxTimeout(t, 3*time.Minute)
		rng := rand.New(rand.NewPCG(1, 2))
		l := newLedger(t)
		committed := map[int]bool{}
		id := 0
		faults := 0
		for tx := 0; tx < n; tx++ {
			switch tx % 10 {
			case 3:
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn, kmsg.AddPartitionsToTxn}, Err: kerr.ConcurrentTransactions, Count: 2, TopLevel: true})
				faults++
			case 5:
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn, kmsg.AddPartitionsToTxn}, Err: kerr.NotCoordinator, TopLevel: true})
				faults++
			case 7:
				c.RehashCoordinators()
				faults++
			case 9:
				dropper.Arm()
				faults++
			}
			if err := p.BeginTransaction(); err != nil {
				t.Fatalf("transaction %d: begin: %v", tx, err)
			}
			size := 1 + rng.IntN(20)
			ids := make([]int, 0, size)
			for k := 0; k < size; k++ {
				rec := l.record(topics[rng.IntN(3)], id)
				rec.Partition, rec.PinPartition = int32(rng.IntN(3)), true
				p.Send(ctx, rec, l.callback(id))
				ids = append(ids, id)
				id++
			}
			if rng.IntN(3) == 0 {
				if rng.IntN(2) == 0 {
					_ = p.Flush(ctx) // written, then aborted
				}
				if err := p.AbortTransaction(ctx); err != nil {
					t.Fatalf("transaction %d: abort: %v", tx, err)
				}
				continue
			}
			if err := p.CommitTransaction(ctx); err != nil {
				t.Fatalf("transaction %d: commit: %v", tx, err)
			}
			for _, i := range ids {
				committed[i] = true
			}
		}
		l.wait(30 * time.Second)
		l.checkAnsweredOnce()
		seen := map[int]bool{}
		for _, topic := range topics {
			want := 0 // the committed records of this topic, by the ledger's answers
			l.mu.Lock()
			for i := range committed {
				if l.meta[i].Topic == topic {
					want++
				}
			}
			l.mu.Unlock()
			last := map[int32]int{}
			for _, r := range consume(t, c, topic, want, readCommitted) {
				i := valueID(t, r.Value)
				if !committed[i] {
					t.Fatalf("%s: record %d is visible but its transaction did not commit", topic, i)
				}
				if seen[i] {
					t.Fatalf("%s: record %d seen twice", topic, i)
				}
				seen[i] = true
				if prev, ok := last[r.Partition]; ok && i < prev {
					t.Fatalf("%s/%d: record %d after %d", topic, r.Partition, i, prev)
				}
				last[r.Partition] = i
			}
		}
		if len(seen) != len(committed) {
			t.Fatalf("read %d committed records, committed %d", len(seen), len(committed))
		}
		t.Logf("%d transactions, %d records, %d committed, %d faults, %d EndTxn responses dropped",
			n, id, len(committed), faults, dropper.Dropped())
		if dropper.Dropped() == 0 {
			t.Fatal("no EndTxn response was dropped: the test lost its teeth")
		}
	})
}
