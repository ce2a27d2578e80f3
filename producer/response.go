package producer

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/backoff"
	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
)

// handleResponse answers, retries or splits each batch of a produce request.
// It runs on the sender goroutine.
func (s *sender) handleResponse(ir *inflightReq, resp kmsg.Response, err error) {
	now := time.Now()
	s.m.requestDone(now.Sub(ir.sentAt))
	s.m.requestsInFlight.Add(-1)
	for _, rb := range ir.batches {
		rb.part.answered(rb)
		s.inflight--
	}
	if err != nil {
		s.logf(slog.LevelDebug, "produce request failed", "broker", ir.node, "err", err)
		for _, rb := range ir.batches {
			s.retryOrFail(rb, err, now)
		}
		return
	}
	if resp == nil { // acks=0: written, nothing more will be heard
		for _, rb := range ir.batches {
			if len(s.hooks.batch) > 0 {
				s.hooks.batchWritten(rb, -1, ir.node, Compression(s.cfg.codec))
			}
			s.complete(rb, -1, -1, nil)
		}
		return
	}
	pr := &resp.(*produceResponse).ProduceResponse
	for _, rb := range ir.batches {
		part := findPartition(pr, &ir.req, rb)
		if part == nil {
			s.retryOrFail(rb, fmt.Errorf("broker %d answered without partition %s/%d: %w", ir.node, rb.part.topic, rb.part.id, kerr.UnknownServerError), now)
			continue
		}
		perr := kerr.ErrorForCode(part.ErrorCode)
		if perr == nil {
			rb.part.acknowledged(rb, now)
			if len(s.hooks.batch) > 0 {
				s.hooks.batchWritten(rb, part.BaseOffset, ir.node, Compression(s.cfg.codec))
			}
			s.complete(rb, part.BaseOffset, part.LogAppendTime, nil)
			continue
		}
		if part.ErrorMessage != nil && *part.ErrorMessage != "" {
			perr = fmt.Errorf("%w: %s", perr, *part.ErrorMessage)
		}
		s.handlePartitionError(rb, perr, now)
	}
}

// findPartition finds rb's partition in the response to req: by topic name,
// or, for Produce v13+ (topics named by id only), by the id req sent.
func findPartition(pr *kmsg.ProduceResponse, req *kmsg.ProduceRequest, rb *recBatch) *kmsg.ProduceResponseTopicPartition {
	var id [16]byte
	for i := range req.Topics {
		if req.Topics[i].Topic == rb.part.topic {
			id = req.Topics[i].TopicID
			break
		}
	}
	for i := range pr.Topics {
		t := &pr.Topics[i]
		if t.Topic != rb.part.topic && (t.Topic != "" || id == [16]byte{} || t.TopicID != id) {
			continue
		}
		for j := range t.Partitions {
			if t.Partitions[j].Partition == rb.part.id {
				return &t.Partitions[j]
			}
		}
	}
	return nil
}

func (s *sender) handlePartitionError(rb *recBatch, err error, now time.Time) {
	if rb.foreign {
		s.replayError(rb, err, now)
		return
	}
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		if rb.numRecords() > 1 && rb.spilled == 0 {
			s.split(rb)
			return
		}
		s.fail(rb, fmt.Errorf("%w: %w", ErrRecordTooLarge, err))
		return
	}
	if s.cfg.idempotence {
		switch idempotence.Classify(err, s.earlierUnresolved(rb)) {
		case idempotence.Succeed:
			rb.part.acknowledged(rb, now)
			s.complete(rb, -1, -1, nil)
			return
		case idempotence.Reset:
			s.sequenceError(rb, err, now)
			return
		case idempotence.Fatal:
			if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) {
				err = fmt.Errorf("%w: %w", ErrFenced, err)
			}
			s.setFatal(err)
			s.fail(rb, *s.life.fatalErr.Load())
			return
		case idempotence.Retry:
			if errors.Is(err, kerr.OutOfOrderSequenceNumber) {
				// Expected while an earlier batch is being retried: not a
				// broker problem, and no attempt used up.
				s.requeue(rb, now, false, err)
				return
			}
		}
	}
	s.retryOrFail(rb, err, now)
}

// doubtfulSeqErrLimit is how many sequence errors in a row a batch that may
// be in the log is resent under its old sequence before the producer takes
// the broker at its word that the batch is not there.
const doubtfulSeqErrLimit = 5

// sequenceError handles OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID
// for a batch with no earlier batch of its partition unresolved: the broker
// says it does not hold the batch, and the way on is a new epoch under which
// the batch gets a fresh sequence.
//
// That is safe only for a batch that cannot be in the log. One whose earlier
// attempt may have been written (maybeApplied) and that a later
// acknowledgement proves written is answered as written. Otherwise it is
// resent under its old sequence, as a retry with backoff: the sender keeps such resends
// within the broker's window of recent batches, so if the batch is there the
// broker answers it as a duplicate, and if it is not, it is appended. Only
// after the broker answered the same way doubtfulSeqErrLimit times is the
// batch taken to be absent (a broker that lost the producer's state, or an
// earlier batch that failed for good and left a gap before it).
func (s *sender) sequenceError(rb *recBatch, err error, now time.Time) {
	if rb.maybeApplied && rb.part.provenWritten(rb) {
		// A later batch was acknowledged, so this one is in the log; the
		// broker no longer remembers where. Answered without an offset,
		// as for DUPLICATE_SEQUENCE_NUMBER.
		s.logf(slog.LevelWarn, "batch proven written by a later acknowledgement; answering it without an offset",
			"topic", rb.part.topic, "partition", rb.part.id, "sequence", rb.seq, "err", err)
		s.complete(rb, -1, -1, nil)
		return
	}
	if rb.maybeApplied && rb.doubtfulSeqErrs < doubtfulSeqErrLimit {
		rb.doubtfulSeqErrs++
		s.logf(slog.LevelInfo, "sequence error for a batch that may be in the log; resending it under its sequence",
			"topic", rb.part.topic, "partition", rb.part.id, "sequence", rb.seq, "err", err)
		s.retryLater(rb, err, now)
		return
	}
	if rb.maybeApplied {
		s.logf(slog.LevelWarn, "broker keeps answering a batch that may be in the log with a sequence error; taking it as absent",
			"topic", rb.part.topic, "partition", rb.part.id, "sequence", rb.seq, "err", err)
	}
	s.requestEpoch(rb, fmt.Sprintf("sequence error: %v", err))
	rb.maybeApplied = false
	s.requeue(rb, now, false, err)
}

// earlierUnresolved reports whether a batch of rb's partition that went out
// before it (a lower sequence) is in flight or waiting to be resent.
func (s *sender) earlierUnresolved(rb *recBatch) bool {
	p := rb.part
	for _, q := range p.sent {
		if q.order < rb.order {
			return true
		}
	}
	found := false
	s.acc.eachQueued(p, func(q *recBatch) bool {
		found = q.order < rb.order && q.seq >= 0
		return !found && q.order < rb.order // the queue is in order
	})
	return found
}

// retryOrFail puts rb back in its queue when err is retriable and time and
// retries remain; otherwise it fails rb.
func (s *sender) retryOrFail(rb *recBatch, err error, now time.Time) {
	if !retriable(err) && s.life.abortErr.Load() == nil {
		s.fail(rb, err)
		return
	}
	if mayHaveApplied(err) {
		rb.maybeApplied = true
	}
	if needsMetadata(err) {
		s.md.Trigger(err.Error())
	}
	s.retryLater(rb, err, now)
}

// retryLater queues rb to go again after a backoff, unless the producer is
// stopping or rb is out of retries or time.
func (s *sender) retryLater(rb *recBatch, err error, now time.Time) {
	rb.lastErr, rb.part.lastErr = err, err
	if ep := s.life.abortErr.Load(); ep != nil {
		s.fail(rb, fmt.Errorf("%w (last error: %w)", *ep, err))
		return
	}
	wait := backoff.Exp(s.cfg.retryBackoff, s.cfg.retryBackoffMax, rb.attempts) // doubling from retry.backoff.ms, ±20%
	switch {
	case rb.spoolIDs != nil:
		// Spooled: it waits for the brokers as long as it takes.
		s.requeue(rb, now.Add(wait), true, err)
	case rb.attempts >= s.cfg.retries:
		s.fail(rb, fmt.Errorf("%w after %d retries: %w", ErrRetriesExhausted, rb.attempts, err))
	case !now.Add(wait).Before(rb.created.Add(s.cfg.deliveryTimeout)):
		s.fail(rb, fmt.Errorf("%w: %v passed (last error: %w)", ErrDeliveryTimeout, s.cfg.deliveryTimeout, err))
	default:
		s.requeue(rb, now.Add(wait), true, err)
	}
}

// requeue puts rb back into its partition's queue, ahead of every batch made
// after it, to go out again at 'at'. why is the error that sends it back
// (nil for the parts of a split batch, which were never sent).
func (s *sender) requeue(rb *recBatch, at time.Time, attempt bool, why error) {
	s.m.recordsRetried.Add(int64(rb.numRecords()))
	if attempt {
		rb.attempts++
	}
	if why != nil && len(s.hooks.retry) > 0 {
		s.hooks.retried(rb, why)
	}
	rb.retryAt = at
	s.acc.requeue(rb)
}

// retriable reports whether a produce error may go away by sending again.
func retriable(err error) bool {
	if errors.Is(err, wire.ErrClosed) || errors.Is(err, wire.ErrRequestTimeout) || errors.Is(err, wire.ErrNotReady) {
		return true
	}
	return brokerRetriable(err)
}

// mayHaveApplied reports errors after which the broker may have written the
// batch anyway.
func mayHaveApplied(err error) bool {
	return errors.Is(err, wire.ErrClosed) || errors.Is(err, wire.ErrRequestTimeout) ||
		errors.Is(err, kerr.RequestTimedOut) || errors.Is(err, kerr.NotEnoughReplicasAfterAppend) ||
		errors.Is(err, kerr.NetworkException) || errors.Is(err, kerr.UnknownServerError)
}

// needsMetadata reports errors that mean our idea of the leader is stale.
func needsMetadata(err error) bool {
	return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.UnknownTopicOrPartition) ||
		errors.Is(err, kerr.LeaderNotAvailable) || errors.Is(err, kerr.FencedLeaderEpoch) ||
		errors.Is(err, kerr.UnknownLeaderEpoch) || errors.Is(err, kerr.KafkaStorageError) ||
		errors.Is(err, wire.ErrClosed)
}

// complete answers rb: its futures resolve now, its callbacks run on the
// completer goroutine, and its memory goes back to the pool.
func (s *sender) complete(rb *recBatch, baseOffset, logAppendTime int64, err error) {
	// Counted before the futures resolve, so Metrics read after a Get
	// includes the record.
	n := int64(rb.numRecords())
	if err != nil {
		s.m.recordsFailed.Add(n)
	} else {
		s.m.recordsSent.Add(n)
	}
	rb.answeredAt = nanotime()
	s.m.recordLatencies(rb, rb.answeredAt)
	res := rb.res
	res.baseOffset, res.logAppendTime, res.err = baseOffset, logAppendTime, err
	if err != nil {
		res.baseOffset = -1
	} else {
		res.markDurable()
	}
	res.finish()
	if link := rb.split; link != nil {
		for i, idx := range link.idx {
			o := outcome{offset: -1, logAppendTime: logAppendTime, err: err}
			if err == nil && baseOffset >= 0 {
				o.offset = baseOffset + int64(i)
			}
			link.parent.perRecord[idx] = o
		}
		if *link.pending--; *link.pending == 0 {
			if !slices.ContainsFunc(link.parent.perRecord, func(o outcome) bool { return o.err != nil }) {
				link.parent.markDurable()
			}
			link.parent.finish()
		}
	}
	if s.spool != nil {
		s.spool.answered(s, rb, err)
	} else {
		s.bufs.release(rb.b.Buffer(), rb.reserved)
	}
	if s.cbs.needed(rb) {
		s.cbs.push(rb)
		return
	}
	s.acc.flushes.done(rb.gen)
	s.acc.recycle(rb)
}

// fail answers rb with err. A batch that already took sequence numbers
// leaves a gap the broker will not accept, so the producer moves to a new
// epoch before the next batches of any partition go out.
func (s *sender) fail(rb *recBatch, err error) {
	if s.txn != nil && !errors.Is(err, ErrAborted) {
		if st := s.txn.machine.State(); st == txn.InTransaction || st == txn.Committing {
			s.txn.machine.Fail(fmt.Errorf("%w: a record failed: %w", ErrAbortable, err), false)
		}
	}
	if rb.spoolIDs != nil && s.life.abortErr.Load() != nil {
		// Closing or failed: the batch stays in the spool for the next
		// producer on its directory (spooler.answered leaves its entries).
		err = fmt.Errorf("%w: %w", ErrSpooled, err)
	}
	if s.cfg.idempotence && rb.seq >= 0 && !rb.foreign && s.life.abortErr.Load() == nil {
		s.requestEpoch(rb, fmt.Sprintf("a batch with sequence numbers failed: %v", err))
		if !rb.maybeApplied {
			s.clearDoubtAfter(rb.part, rb.order)
		}
	}
	s.complete(rb, -1, -1, err)
}
