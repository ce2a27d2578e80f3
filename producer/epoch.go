package producer

import (
	"context"
	"log/slog"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
)

// producerID is the idempotent producer's id and epoch as the sender stamps
// them on batches, and whether a new epoch is due. Sender goroutine only;
// other goroutines read it through sender.call. The rules it keeps:
//
//   - A batch's sequence means something only under the id and epoch it was
//     stamped with: adopting a new id or epoch restarts every partition's
//     sequences (partSeq) and unstamps every queued batch.
//   - needEpoch: a sequence broke (a batch with sequences failed or was
//     split, or the broker no longer knows the producer). New batches wait
//     for a new epoch, which is asked for only once nothing of the old one
//     is in flight and every queued batch that may be in the log was
//     resent under its old sequence, so that none is written twice.
//   - initializing: an InitProducerId is running; nothing new is stamped
//     until its answer is adopted.
type producerID struct {
	id           idempotence.ID
	initializing bool
	needEpoch    bool
}

// partSeq is one partition's sequence state under the current producer id
// and epoch. Sender goroutine only; reset when the id or epoch changes.
type partSeq struct {
	next int32 // next base sequence
	// confirmed: a batch of the current producer id and epoch was
	// acknowledged here. Until then one batch goes at a time, because a
	// broker with no state for the producer may accept any first sequence,
	// and a later batch could land before an earlier one that failed.
	confirmed bool
	// ackedOrder is the order of the latest batch acknowledged under the
	// current producer id and epoch (meaningful once confirmed). A broker
	// appends a producer's batches only in sequence order, so every batch
	// before it is in the log.
	ackedOrder uint64
}

// acknowledged notes that the broker acknowledged rb, as of now (the time
// its answer is handled). Sender goroutine only.
func (p *partition) acknowledged(rb *recBatch, now time.Time) {
	p.lastAck = now
	if rb.foreign {
		p.lastErr = nil
		return // its stamp is an earlier producer's: p's sequences are not concerned
	}
	if !p.seq.confirmed || rb.order > p.seq.ackedOrder {
		p.seq.ackedOrder = rb.order
	}
	p.seq.confirmed, p.lastErr = true, nil
}

// provenWritten reports whether rb, a batch under the current epoch, must
// be in the log because a later batch of p was acknowledged. Sender
// goroutine only.
func (p *partition) provenWritten(rb *recBatch) bool {
	return p.seq.confirmed && rb.seq >= 0 && p.seq.ackedOrder > rb.order
}

// settleDoubtLocked clears the may-be-in-the-log mark of queued batches that
// cannot be in the log. A broker appends a producer's batches of a partition
// only in sequence order, so once a queued batch is known to be absent (not
// stamped under the current epoch, or stamped and never possibly written),
// every batch behind it is absent too. Without this, a possibly-written batch
// queued behind an absent one would wait to be resolved under its old
// sequence, which the broker cannot accept before the absent one. Called
// with the partition's mu held, on the sender goroutine.
func settleDoubtLocked(queue []*recBatch) {
	absent := false
	for _, q := range queue {
		if absent {
			q.maybeApplied = false
		} else if q.seq < 0 || !q.maybeApplied {
			absent = true
		}
	}
}

// clearDoubtAfter clears the may-be-in-the-log mark of p's queued batches
// that come after a batch known to be absent from the log, which just left
// the queue for good (failed).
func (s *sender) clearDoubtAfter(p *partition, order uint64) {
	s.acc.eachQueued(p, func(q *recBatch) bool {
		if q.order > order {
			q.maybeApplied = false
		}
		return true
	})
}

// stampMode says which batches may go out, for the idempotent producer.
type stampMode int8

const (
	stampNone    stampMode = iota // wait: no producer id yet, or a new one is coming
	stampAll                      // normal operation
	stampResolve                  // a new epoch is due: first resolve batches that may have been written
	stampForeign                  // no producer id yet: only batches replayed under their own stamps
)

// canStamp says which batches may be sent now, starting an InitProducerId
// (first id, or a new epoch after a sequence break) when one is needed.
func (s *sender) canStamp() stampMode {
	ids := &s.ids
	if ids.initializing || s.life.fatalErr.Load() != nil {
		return stampNone
	}
	if ids.id.Valid() && !ids.needEpoch {
		return stampAll
	}
	if s.txn != nil {
		// Transactional: the id comes from InitTransactions. A broken
		// sequence made the transaction abortable (its abort takes a new
		// epoch), so what is still queued fails now rather than wait.
		if ids.needEpoch {
			err := s.txn.machine.Err()
			if err == nil {
				err = ErrAbortable
			}
			s.failQueued(err)
		}
		return stampNone
	}
	if ids.needEpoch {
		if s.unresolved() {
			return stampResolve
		}
		if s.inflight > 0 {
			return stampNone
		}
	}
	ids.initializing = true
	current := idempotence.None
	if ids.needEpoch {
		current = ids.id
	}
	go func() {
		id, err := s.newProducerID(s.life.ctx, current)
		s.mb.post(func() { s.producerIDDone(id, err) })
	}()
	return stampNone
}

// unresolved reports whether a queued batch may already be in the log.
func (s *sender) unresolved() bool {
	found := false
	for _, p := range s.acc.partitions() {
		s.acc.eachQueued(p, func(rb *recBatch) bool {
			found = rb.maybeApplied && rb.seq >= 0 && !rb.foreign
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// newProducerID is the producer's one way to a producer id: from the
// transaction coordinator with a transactional id (which also fences older
// producers of that id), from any broker without. A valid current id asks
// for a new epoch of it. It retries until ctx ends.
func (s *sender) newProducerID(ctx context.Context, current idempotence.ID) (idempotence.ID, error) {
	if s.txn != nil {
		return s.txn.coord.InitProducerID(ctx, current)
	}
	return idempotence.Init(ctx, s.anyBroker, s.cfg.txnTimeout, current, s.cfg.retryBackoff)
}

// producerIDDone handles the answer of the sender's own InitProducerId.
func (s *sender) producerIDDone(id idempotence.ID, err error) {
	s.ids.initializing = false
	if err != nil {
		if s.life.ctx.Err() != nil {
			return
		}
		s.logf(slog.LevelError, "cannot obtain a producer id; failing every record", "err", err)
		s.setFatal(err)
		return
	}
	s.adoptID(id, false)
}

// adoptID makes id the producer id and epoch of new batches. A new id or
// epoch restarts every partition's sequences at 0 (queued batches get new
// sequences when they are sent); a transaction's end also forgets which
// partitions joined it. Sender goroutine only.
func (s *sender) adoptID(id idempotence.ID, txnEnded bool) {
	if txnEnded && s.txn != nil {
		s.txn.ended()
	}
	old, reset := s.ids.id, s.ids.needEpoch
	s.ids.id, s.ids.needEpoch = id, false
	if old == id {
		return
	}
	switch {
	case reset:
		s.m.pidResets.Add(1)
		if len(s.hooks.pid) > 0 {
			s.hooks.pidReset(ProducerIDReset{ProducerID: id.ProducerID, Epoch: id.Epoch,
				PrevProducerID: old.ProducerID, PrevEpoch: old.Epoch})
		}
		s.logf(slog.LevelWarn, "producer took a new epoch; sequences restart at 0", "producer_id", id.ProducerID, "epoch", id.Epoch)
	case !old.Valid():
		s.logf(slog.LevelInfo, "idempotent producer ready", "producer_id", id.ProducerID, "epoch", id.Epoch)
	}
	for _, p := range s.acc.partitions() {
		p.seq = partSeq{}
		s.acc.eachQueued(p, func(rb *recBatch) bool {
			if !rb.foreign { // a replayed batch keeps the stamp it may be in the log under
				rb.seq, rb.maybeApplied, rb.sends, rb.doubtfulSeqErrs = -1, false, 0, 0
			}
			return true
		})
	}
}

// requestEpoch asks for a new epoch (and fresh sequences everywhere) before
// the next new batch goes out, saying why.
func (s *sender) requestEpoch(rb *recBatch, why string) {
	if !s.ids.needEpoch {
		s.logf(slog.LevelWarn, "idempotent producer needs a new epoch", "reason", why,
			"topic", rb.part.topic, "partition", rb.part.id, "producer_id", s.ids.id.ProducerID, "epoch", s.ids.id.Epoch)
	}
	s.ids.needEpoch = true
}

// stamp gives rb, going out for the first time under the current id, its
// base sequence.
func (s *sender) stamp(p *partition, rb *recBatch) {
	rb.seq = p.seq.next
	p.seq.next = idempotence.NextSequence(p.seq.next, rb.numRecords())
	rb.b.Stamp(s.ids.id.ProducerID, s.ids.id.Epoch, rb.seq, s.txn != nil)
}

// The calls below run on the sender goroutine for the Producer's
// transactional methods; each fails with ErrClosed once the sender stopped.

// currentID is the producer id and epoch the sender stamps batches with.
func (s *sender) currentID() (idempotence.ID, error) {
	var id idempotence.ID
	err := s.call(func() { id = s.ids.id })
	return id, err
}

// epochBroken reports whether a sequence broke under the current epoch.
func (s *sender) epochBroken() (bool, error) {
	var broken bool
	err := s.call(func() { broken = s.ids.needEpoch })
	return broken, err
}

// adopt runs adoptID on the sender goroutine.
func (s *sender) adopt(id idempotence.ID, txnEnded bool) error {
	return s.call(func() { s.adoptID(id, txnEnded) })
}
