package producer

import (
	"cmp"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/spool"
)

// replayEntry is a spooled batch an earlier producer left, with the stamp
// its latest stamp entry gave it.
type replayEntry struct {
	m       spoolMeta
	key     uint64   // the id of the entry that gave its stamp (its own id when unstamped)
	ids     []uint64 // its entries: the batch, then its stamp entries
	dataLen int
}

// replay queues the batches an earlier producer left in the spool, before
// anything new: per partition, those it stamped in sequence order, then
// those it never stamped (never sent) in queue order. Stamped ones go out under their old stamp,
// so the broker drops what it already has (replayAnswer); the others are
// new batches for this producer. Called by openSpool before the sender
// starts.
func (sp *spooler) replay(acc *accumulator, entries []spool.Entry) {
	byID := make(map[uint64]*replayEntry, len(entries))
	var batches []*replayEntry
	var drop []uint64
	for _, e := range entries {
		sp.life = max(sp.life, e.ID+1) // above every id an earlier producer used
		m, err := parseSpoolMeta(e.Meta)
		if err == nil && m.kind == spoolKindBatch && e.DataLen == 0 {
			err = errSpoolMeta
		}
		if err != nil {
			sp.m.spoolUnreadable.Add(1)
			sp.logf(slog.LevelError, "spool: an entry cannot be decoded and is not replayed", "id", e.ID, "err", err)
			drop = append(drop, e.ID)
			continue
		}
		switch m.kind {
		case spoolKindBatch:
			re := &replayEntry{m: m, key: e.ID, ids: []uint64{e.ID}, dataLen: e.DataLen}
			byID[e.ID] = re
			batches = append(batches, re)
		case spoolKindStamp:
			re := byID[m.of]
			if re == nil {
				drop = append(drop, e.ID) // its batch was done before the crash
				continue
			}
			re.m.stamped, re.m.producerID, re.m.epoch, re.m.seq = true, m.producerID, m.epoch, m.seq
			re.key = e.ID
			re.ids = append(re.ids, e.ID)
		}
	}
	if len(drop) > 0 {
		if err := sp.sp.DoneMany(drop); err != nil {
			sp.logf(slog.LevelWarn, "spool: cannot mark unusable entries done", "err", err)
		}
	}
	// A partition's stamped batches go in sequence order, stamp by stamp
	// (an earlier producer id or epoch before a later one: the one whose
	// first entry came first); append order alone is not sequence order,
	// since a batch may be spooled after a later one (it was in flight).
	type stampKey struct {
		topic     string
		partition int32
		pid       int64
		epoch     int16
	}
	first := map[stampKey]uint64{}
	for _, re := range batches {
		if re.m.stamped {
			k := stampKey{re.m.topic, re.m.partition, re.m.producerID, re.m.epoch}
			if f, ok := first[k]; !ok || re.key < f {
				first[k] = re.key
			}
		}
	}
	slices.SortStableFunc(batches, func(a, b *replayEntry) int {
		if c := cmp.Compare(a.m.topic, b.m.topic); c != 0 {
			return c
		}
		if c := cmp.Compare(a.m.partition, b.m.partition); c != 0 {
			return c
		}
		if a.m.stamped != b.m.stamped {
			if a.m.stamped {
				return -1
			}
			return 1
		}
		if !a.m.stamped { // never stamped: in queue order, an earlier producer's first
			if c := cmp.Compare(a.m.life, b.m.life); c != 0 {
				return c
			}
			return cmp.Compare(a.m.order, b.m.order)
		}
		fa := first[stampKey{a.m.topic, a.m.partition, a.m.producerID, a.m.epoch}]
		fb := first[stampKey{b.m.topic, b.m.partition, b.m.producerID, b.m.epoch}]
		if c := cmp.Compare(fa, fb); c != 0 {
			return c
		}
		return cmp.Compare(a.m.seq, b.m.seq)
	})
	now := time.Now()
	for _, re := range batches {
		p := acc.partition(re.m.topic, re.m.partition)
		rb := acc.queueReplayed(p, now, func(rb *recBatch) {
			rb.spoolIDs, rb.onDisk, rb.diskLen, rb.rawLen = re.ids, true, re.dataLen, int(re.m.rawLen)
			rb.spilled = int(re.m.records)
			if re.m.stamped {
				rb.foreign, rb.seq = true, re.m.seq
				rb.fpid, rb.fepoch = re.m.producerID, re.m.epoch
			}
		})
		if rb.foreign {
			sp.foreign++
		}
		sp.m.replayedBatches.Add(1)
		sp.m.replayedRecords.Add(int64(re.m.records))
	}
	if len(batches) > 0 {
		sp.logf(slog.LevelInfo, "spool: replaying what an earlier producer left", "batches", len(batches), "stamped", sp.foreign)
	}
}

// replayError handles a broker error for a batch replayed under an earlier
// producer's stamp. Sender goroutine only.
//   - DUPLICATE_SEQUENCE_NUMBER: the broker has it; it is answered as written.
//   - OUT_OF_ORDER_SEQUENCE_NUMBER: the broker takes a producer's batches of a
//     partition only in sequence order and holds the last ones it took, so
//     a replayed batch it neither has nor takes is not in the log (an
//     earlier batch, never spooled, is missing): it and the later replayed
//     batches of the same stamp go out as this producer's batches.
//   - UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING,
//     PRODUCER_FENCED: the broker no longer knows that producer. The batches
//     go out as this producer's, and those written before the crash are
//     written twice: the at-least-once fallback, logged and counted.
//   - other errors as for any batch: retried, or failed.
func (s *sender) replayError(rb *recBatch, err error, now time.Time) {
	switch {
	case errors.Is(err, kerr.DuplicateSequenceNumber):
		s.m.replayDuplicates.Add(1)
		rb.part.acknowledged(rb, now)
		s.complete(rb, -1, -1, nil)
	case errors.Is(err, kerr.OutOfOrderSequenceNumber):
		n := s.replayAsNew(rb)
		s.m.replayResent.Add(int64(n))
		s.logf(slog.LevelInfo, "spool: a replayed batch is not in the log; it and the later ones of its stamp go out under this producer's id",
			"topic", rb.part.topic, "partition", rb.part.id, "batches", n)
		s.requeue(rb, now, false, err)
	case errors.Is(err, kerr.UnknownProducerID), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.InvalidProducerIDMapping), errors.Is(err, kerr.ProducerFenced):
		n := s.replayAsNew(rb)
		s.m.replayFallbacks.Add(int64(n))
		s.logf(slog.LevelWarn, "spool: the broker no longer knows the producer that spooled these batches; sending them again under this producer's id: those it wrote before are written twice (at least once)",
			"topic", rb.part.topic, "partition", rb.part.id, "batches", n, "producer_id", rb.fpid, "epoch", rb.fepoch, "err", err)
		s.requeue(rb, now, false, err)
	default:
		s.retryOrFail(rb, err, now)
	}
}

// replayAsNew turns rb and the replayed batches of p queued behind it under
// the same stamp into batches of this producer (stamped when they go out,
// with a stamp entry first). It returns how many.
func (s *sender) replayAsNew(rb *recBatch) int {
	pid, epoch := rb.fpid, rb.fepoch
	unstamp := func(q *recBatch) {
		q.foreign, q.seq, q.fpid, q.fepoch = false, -1, 0, 0
		q.maybeApplied, q.sends, q.doubtfulSeqErrs = false, 0, 0
		s.spool.foreign--
	}
	unstamp(rb)
	n := 1
	s.acc.eachQueued(rb.part, func(q *recBatch) bool {
		if q.foreign && q.fpid == pid && q.fepoch == epoch {
			unstamp(q)
			n++
		}
		return true
	})
	return n
}
