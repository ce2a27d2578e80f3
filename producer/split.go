package producer

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/kprod/kprod/internal/batch"
)

// split answers MESSAGE_TOO_LARGE by carving rb's records into batches of
// about half its size, queued where rb was; each record keeps its callback,
// and the caller's futures resolve once every part is answered.
func (s *sender) split(rb *recBatch) {
	p := rb.part
	origin, originIdx := rb.res, []int32(nil)
	if rb.split != nil {
		origin, originIdx = rb.split.parent, rb.split.idx
	}
	if origin.perRecord == nil {
		origin.perRecord = make([]outcome, len(rb.recs))
	}
	pending := new(int)
	if rb.split != nil {
		pending = rb.split.pending
		*pending-- // rb itself is replaced by its parts
	}
	target := max(rb.b.Len()/2, batch.Overhead+1)
	// Every part gets an order inside rb's span, in record order; at most
	// one part per record, so the span divides evenly enough.
	step := max(rb.span/uint64(rb.numRecords()), 1)
	var parts []*recBatch
	var cur *recBatch
	i := 0
	err := rb.b.EachRecord(func(r batch.Record) bool {
		size := rb.b.AppendSize(r.Timestamp, r.Key, r.Value, r.Headers) // an upper bound for a fresh batch's record too
		if cur == nil || (cur.b.NumRecords() > 0 && cur.b.Len()+size > target) {
			need := max(target, batch.EstimateSize(r.Key, r.Value, r.Headers))
			buf := s.bufs.force(need)
			cur = s.acc.newRecBatch(p, buf, cap(buf), rb.created, rb.gen)
			cur.limit = need
			cur.order, cur.span, cur.attempts = rb.order+uint64(len(parts))*step, step, rb.attempts
			cur.split = &splitLink{parent: origin, pending: pending}
			s.acc.flushes.add(rb.gen)
			parts = append(parts, cur)
			*pending++
		}
		cur.b.Append(r.Timestamp, r.Key, r.Value, r.Headers)
		cur.addRec(rb.recs[i].cb, rb.recTS(i), rb.recAt(i)) // a part spans less than its parent: the times fit
		if len(rb.hooked) > 0 {
			cur.hooked = append(cur.hooked, rb.hooked[i])
		}
		idx := int32(i)
		if originIdx != nil {
			idx = originIdx[i]
		}
		cur.split.idx = append(cur.split.idx, idx)
		i++
		return true
	})
	if err != nil {
		// Our own batch did not decode: nothing sensible to resend.
		for _, part := range parts {
			s.bufs.release(part.b.Buffer(), part.reserved)
			s.acc.flushes.done(part.gen)
		}
		s.fail(rb, fmt.Errorf("%w: split failed: %w", ErrRecordTooLarge, err))
		return
	}
	s.logf(slog.LevelInfo, "batch too large for the broker; split", "topic", p.topic, "partition", p.id,
		"records", rb.numRecords(), "parts", len(parts))
	for _, part := range parts {
		part.finishErr = part.b.Finish(s.acc.comp)
		part.finished = true
		s.requeue(part, time.Time{}, false, nil)
	}
	if s.cfg.idempotence && rb.seq >= 0 {
		s.requestEpoch(rb, "a batch was split and its parts need sequences of their own")
	}
	s.bufs.release(rb.b.Buffer(), rb.reserved)
	s.acc.flushes.done(rb.gen)
	s.acc.recycle(rb) // clears recs and hooked: the parts hold their callbacks and hooked records now
}
