package producer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
)

// transaction is everything a transactional producer knows about its
// transactions, in one place; nil without a transactional id. The
// producer id and epoch it runs under are the sender's (producerID).
//
//   - machine is the state (Ready, InTransaction, Committing, ...), safe
//     from any goroutine; every public transactional call moves it first.
//   - coord sends the coordinator's requests (InitProducerId,
//     AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn); safe
//     from any goroutine.
//   - touched: the coordinator knows of the open transaction (partitions or
//     offsets were added, or a batch went out with partitions added
//     implicitly), so it must be ended there. Any goroutine.
//   - added, toAdd, adding: which partitions joined the open transaction
//     (classic flow); sender goroutine only. A batch goes out only once its
//     partition joined.
type transaction struct {
	id      string
	machine *txn.Machine
	coord   *txn.Client
	touched atomic.Bool

	// ---- sender goroutine only ----
	added  txn.PartitionSet   // partitions in the open transaction
	toAdd  map[string][]int32 // partitions with batches waiting to join it
	adding chan struct{}      // an AddPartitionsToTxn is running; closed once its answer is handled
}

func newTransaction(cfg *config, conns *wire.Pool) *transaction {
	if cfg.txnID == "" {
		return nil
	}
	return &transaction{
		id:      cfg.txnID,
		machine: txn.NewMachine(),
		coord: txn.NewClient(conns, txn.Config{
			TransactionalID: cfg.txnID,
			Timeout:         cfg.txnTimeout,
			RequestTimeout:  cfg.requestTimeout,
			RetryBackoff:    cfg.retryBackoff,
			Logger:          cfg.logger,
		}),
	}
}

// idPtr is the transactional id as produce requests carry it.
func (t *transaction) idPtr() *string {
	if t == nil {
		return nil
	}
	return &t.id
}

// implicit reports whether partitions join the transaction through the
// produce request itself (transactions v2, Produce v12+ on conn).
func (t *transaction) implicit(conn *wire.Conn) bool {
	if t == nil || !t.coord.V2() {
		return false
	}
	v, _ := conn.MaxVersion(0)
	return v >= 12
}

// joined reports whether p's batches may go out in the open transaction; if
// p has not joined it yet (classic flow), it is noted for the next
// AddPartitionsToTxn. Sender goroutine only.
func (t *transaction) joined(p *partition, implicit bool) bool {
	if t == nil || implicit || t.added.Has(p.topic, p.id) {
		return true
	}
	if t.toAdd == nil {
		t.toAdd = make(map[string][]int32)
	}
	for _, id := range t.toAdd[p.topic] {
		if id == p.id {
			return false
		}
	}
	t.toAdd[p.topic] = append(t.toAdd[p.topic], p.id)
	return false
}

// ended forgets the partitions of the transaction that just ended. Sender
// goroutine only.
func (t *transaction) ended() { t.added.Reset() }

// addPartitions registers the noted partitions with the coordinator, off
// the sender goroutine; the answer comes back through the mailbox.
func (s *sender) addPartitions() {
	t := s.txn
	parts, id := t.toAdd, s.ids.id
	done := make(chan struct{})
	t.toAdd, t.adding = nil, done
	go func() {
		ctx, cancel := context.WithTimeout(s.life.ctx, s.cfg.deliveryTimeout)
		defer cancel()
		err := t.coord.AddPartitions(ctx, id, parts)
		s.mb.post(func() { s.partitionsAdded(parts, err); close(done) })
	}()
}

// partitionsAdded records the outcome of an AddPartitionsToTxn. On failure
// the transaction cannot commit, and the records waiting for those
// partitions fail with the reason.
func (s *sender) partitionsAdded(parts map[string][]int32, err error) {
	t := s.txn
	t.adding = nil
	if err == nil {
		t.added.AddAll(parts)
		t.touched.Store(true)
		return
	}
	s.logf(slog.LevelWarn, "adding partitions to the transaction failed", "err", err)
	if errors.Is(err, txn.ErrFenced) || errors.Is(err, txn.ErrFatal) {
		s.setFatal(err)
	} else {
		t.machine.Fail(err, false)
	}
	for topic, ids := range parts {
		for _, id := range ids {
			for _, rb := range s.acc.takeQueued(s.acc.partition(topic, id), false) {
				s.fail(rb, err)
			}
		}
	}
}

// addingDone returns a channel closed once the AddPartitionsToTxn running
// now (if any) is answered; nil when none runs.
func (s *sender) addingDone() (chan struct{}, error) {
	var ch chan struct{}
	err := s.call(func() { ch = s.txn.adding })
	return ch, err
}
