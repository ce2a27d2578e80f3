package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The storm with transactions: the senders of storm_test.go send inside
// transactions of 1 to 200 records; a third are aborted (half of those
// after a Flush, so their records are in the log), the rest committed. A
// transaction whose commit fails with ErrAbortable (a record failed under
// the storm) is aborted and counted as aborted. Besides the produce faults,
// the coordinator answers CONCURRENT_TRANSACTIONS, NOT_COORDINATOR and
// COORDINATOR_LOAD_IN_PROGRESS, moves (RehashCoordinators) and loses EndTxn
// responses. A read_committed reader must see exactly the records of the
// committed transactions, each once, in send order per (sender, partition),
// at their acknowledged offsets, and nothing of the aborted ones.

// In the transactional mix, one hold in 64 rather than 16 outlasts the
// request timeout: such a hold stops the transaction's commit for over 2 s.
var mixTxn = stormMix{name: "mixed+coordinator", codes: mixAll.codes, drops: true, moves: true, sleep: true,
	longHoldOneIn: 64, coord: true}

// TestStormTxn runs the transactional storm for 1.5 s, with transactions v2
// and with the classic flow. Faults come every 10 ms rather than 5: the
// commits serialize the senders, and a storm twice as dense leaves few
// transactions able to commit.
func TestStormTxn(t *testing.T) {
	txnStorms(t, 1500*time.Millisecond, stormSeeds(t, 1))
}

// TestStormTxnLong is the CI version: 4 s, three seeds, both flows.
func TestStormTxnLong(t *testing.T) {
	skipUnlessCI(t)
	txnStorms(t, 4*time.Second, stormSeeds(t, 3))
}

func txnStorms(t *testing.T, d time.Duration, seeds []uint64) {
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
				res := runStorm(t, stormConfig{mix: mixTxn, seed: seed, senders: 4, rate: 5000, duration: d,
					every: 10 * time.Millisecond, drain: 30 * time.Second, txn: true, clusterOpts: opts})
				res.check(t)
			})
		})
	}
}

// txnOutcome is how a storm transaction ended.
type txnOutcome int8

const (
	txnOpen txnOutcome = iota // not ended: the controller stopped on an error
	txnCommitted
	txnAborted
)

// txnGate lets the senders send only inside an open transaction, and only
// as many records as it may hold; the controller closes it (the write lock)
// to end the transaction.
type txnGate struct {
	mu   sync.RWMutex
	open bool // guarded by mu
	id   int  // the open transaction; guarded by mu
	left atomic.Int64
}

func newTxnGate() *txnGate { return &txnGate{} }

// enter reports whether the caller may send one record into transaction
// id; it then holds the gate until leave.
func (g *txnGate) enter() bool {
	g.mu.RLock()
	if !g.open || g.left.Add(-1) < 0 {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *txnGate) leave() { g.mu.RUnlock() }

// runTxnController begins and ends transactions until stopAt and returns
// the outcome of each.
func runTxnController(t *testing.T, ctx context.Context, p *Producer, g *txnGate, cfg stormConfig, stopAt time.Time) []txnOutcome {
	rng := rand.New(rand.NewPCG(cfg.seed, 200))
	var (
		outcomes                             []txnOutcome
		commits, aborts, abortsAfterFailures int
		records                              int64
	)
	for id := 0; time.Now().Before(stopAt) && ctx.Err() == nil; id++ {
		size := 1 + rng.IntN(200)
		g.mu.Lock()
		if err := p.BeginTransaction(); err != nil {
			g.mu.Unlock()
			t.Errorf("transaction %d: begin: %v", id, err)
			break
		}
		outcomes = append(outcomes, txnOpen)
		g.id, g.open = id, true
		g.left.Store(int64(size))
		g.mu.Unlock()
		began := time.Now()
		for g.left.Load() > 0 && time.Since(began) < 100*time.Millisecond && time.Now().Before(stopAt) {
			time.Sleep(500 * time.Microsecond)
		}
		g.mu.Lock()
		g.open = false
		records += int64(size) - max(g.left.Load(), 0)
		abort := rng.IntN(3) == 0
		flush := rng.IntN(2) == 0
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		var err error
		switch {
		case abort:
			if flush {
				_ = p.Flush(tctx) // written, then aborted
			}
			if err = p.AbortTransaction(tctx); err == nil {
				outcomes[id] = txnAborted
				aborts++
			}
		default:
			err = p.CommitTransaction(tctx)
			for try := 0; errors.Is(err, ErrTxnTimeout) && try < 3; try++ {
				err = p.CommitTransaction(tctx) // documented as safe to call again
			}
			switch {
			case err == nil:
				outcomes[id] = txnCommitted
				commits++
			case errors.Is(err, ErrAbortable):
				// A record failed: legitimately not committable.
				t.Logf("transaction %d: commit: %v; aborting it", id, err)
				if err = p.AbortTransaction(tctx); err == nil {
					outcomes[id] = txnAborted
					abortsAfterFailures++
				}
			}
		}
		cancel()
		g.mu.Unlock()
		if errors.Is(err, ErrTxnTimeout) {
			dumpGoroutines(t, "txn-timeout")
			t.Logf("transaction %d timed out: %s", id, senderState(p))
		}
		if err != nil {
			t.Errorf("transaction %d (%d records, %s): %v", id, size, map[bool]string{true: "abort", false: "commit"}[abort], err)
			break
		}
	}
	t.Logf("%d transactions (%d records): %d committed, %d aborted by choice, %d aborted because the commit said ErrAbortable",
		len(outcomes), records, commits, aborts, abortsAfterFailures)
	return outcomes
}

// checkTxns fails a transactional storm that committed or aborted too few
// transactions to prove anything.
func (r *stormResult) checkTxns(t *testing.T) {
	t.Helper()
	var committed, aborted int
	for _, o := range r.txns {
		switch o {
		case txnCommitted:
			committed++
		case txnAborted:
			aborted++
		}
	}
	if committed < 3 || aborted < 1 {
		t.Errorf("%d transactions committed, %d aborted: too few to check anything", committed, aborted)
	}
}
