package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/txn"
)

// Transaction errors, shared with package txn so errors.Is works either way.
var (
	// ErrFenced: another producer with the same transactional id took over
	// (or the epoch is otherwise invalid). Fatal: close the producer.
	ErrFenced = txn.ErrFenced
	// ErrAbortable: the open transaction cannot commit; abort it and go on.
	ErrAbortable = txn.ErrAbortable
	// ErrTxnTimeout: the call's context ended before the coordinator
	// answered; calling it again is safe.
	ErrTxnTimeout = txn.ErrTimeout
	// ErrInvalidState: a transactional call out of order (Send or Commit
	// without Begin, Begin twice, a transactional call on a producer
	// without a transactional id).
	ErrInvalidState = txn.ErrInvalidState
	// ErrAborted: the record's transaction was aborted before it was sent.
	ErrAborted = txn.ErrAborted
)

// GroupMetadata identifies the consumer group member whose offsets join a
// transaction, so the group coordinator can refuse a commit from a member
// that was replaced since (KIP-447). Take the fields from the consumer's
// group metadata (kgo: Client.GroupMetadata).
//
// The zero value of each field means "none", as in Java's
// ConsumerGroupMetadata(groupId): GroupMetadata{GroupID: "g"} commits for
// the group without any member or generation check.
type GroupMetadata struct {
	// GroupID is the consumer group whose offsets these are; required.
	GroupID string
	// Generation is the group generation the member is in. Generations
	// start at 1, so 0 (and any negative value) means no generation and
	// is sent as -1.
	Generation int32
	// MemberID is the member id the consumer got from the group; "" for none.
	MemberID string
	// InstanceID is the group.instance.id of a static member; "" for a
	// dynamic member.
	InstanceID string
}

// OffsetAndMetadata is a consumed position committed with a transaction.
//
// The zero value of each optional field means "none", as in Java's
// OffsetAndMetadata(offset): OffsetAndMetadata{Offset: n} commits offset n
// with an unknown leader epoch and no metadata.
type OffsetAndMetadata struct {
	// Offset is the next offset to consume: the last consumed record's
	// offset + 1.
	Offset int64
	// LeaderEpoch is the leader epoch of the last consumed record, which
	// lets a consumer that resumes from this offset detect log truncation
	// (KIP-320). It is sent when it is above 0 or when HasLeaderEpoch is
	// set; otherwise the epoch is sent as unknown (-1), so the zero value
	// is safe. A negative LeaderEpoch is always unknown.
	LeaderEpoch int32
	// HasLeaderEpoch marks LeaderEpoch as known even when it is 0, the
	// first epoch of a partition.
	HasLeaderEpoch bool
	// Metadata is an optional string stored with the offset; "" for none.
	Metadata string
}

// txnGroup is g as package txn sends it: the zero values become -1 and null.
func (g GroupMetadata) txnGroup() txn.GroupMetadata {
	out := txn.GroupMetadata{GroupID: g.GroupID, Generation: g.Generation, MemberID: g.MemberID}
	if out.Generation <= 0 {
		out.Generation = -1
	}
	if g.InstanceID != "" {
		id := g.InstanceID
		out.InstanceID = &id
	}
	return out
}

// txnOffset is o as package txn sends it.
func (o OffsetAndMetadata) txnOffset() txn.Offset {
	out := txn.Offset{Offset: o.Offset, LeaderEpoch: -1}
	if o.LeaderEpoch > 0 || o.HasLeaderEpoch && o.LeaderEpoch == 0 {
		out.LeaderEpoch = o.LeaderEpoch
	}
	if o.Metadata != "" {
		md := o.Metadata
		out.Metadata = &md
	}
	return out
}

// notTransactional is the error of a transactional call on a producer without
// a transactional id.
func notTransactional() error {
	return fmt.Errorf("%w: the producer has no transactional.id", ErrInvalidState)
}

// InitTransactions gets the producer id for the transactional id, fencing
// any older producer with the same id and finishing its open transaction.
// It must be called once before the first BeginTransaction; after an
// ErrTxnTimeout it may be called again.
func (p *Producer) InitTransactions(ctx context.Context) error {
	if p.txn == nil {
		return notTransactional()
	}
	if p.closing.Load() {
		return ErrClosed
	}
	if p.txn.machine.State() != txn.Initializing {
		if err := p.transition(txn.Initializing); err != nil {
			return err
		}
	}
	id, err := p.s.newProducerID(ctx, idempotence.None)
	if err != nil {
		p.txFailed(err)
		return err
	}
	if err := p.s.adopt(id, false); err != nil {
		return err
	}
	return p.txn.machine.Transition(txn.Ready)
}

// BeginTransaction opens a transaction: records sent from now on and offsets
// sent with SendOffsetsToTransaction are committed or aborted together.
func (p *Producer) BeginTransaction() error {
	if p.txn == nil {
		return notTransactional()
	}
	if p.closing.Load() {
		return ErrClosed
	}
	return p.transition(txn.InTransaction)
}

// SendOffsetsToTransaction makes committing the consumed offsets (topic →
// partition → position) of group part of the open transaction: they take
// effect only if the transaction commits. This is how a
// consume-transform-produce loop reads and writes exactly once.
func (p *Producer) SendOffsetsToTransaction(ctx context.Context, offsets map[string]map[int32]OffsetAndMetadata, group GroupMetadata) error {
	if p.txn == nil {
		return notTransactional()
	}
	if st := p.txn.machine.State(); st != txn.InTransaction {
		return p.stateError(st, "SendOffsetsToTransaction")
	}
	id, err := p.s.currentID()
	if err != nil {
		return err
	}
	sent := make(map[string]map[int32]txn.Offset, len(offsets))
	for topic, parts := range offsets {
		m := make(map[int32]txn.Offset, len(parts))
		for part, o := range parts {
			m[part] = o.txnOffset()
		}
		sent[topic] = m
	}
	p.txn.touched.Store(true)
	if err := p.txn.coord.SendOffsets(ctx, id, sent, group.txnGroup()); err != nil {
		p.txFailed(err)
		return err
	}
	return nil
}

// CommitTransaction sends every buffered record of the transaction (without
// waiting for linger), waits until all are acknowledged, and commits. If a
// record failed, the transaction cannot commit: the error wraps
// ErrAbortable and AbortTransaction is next. After ErrTxnTimeout, calling
// CommitTransaction again is safe.
func (p *Producer) CommitTransaction(ctx context.Context) error {
	if p.txn == nil {
		return notTransactional()
	}
	if p.txn.machine.State() != txn.Committing {
		if err := p.transition(txn.Committing); err != nil {
			return err
		}
	}
	if err := p.flushAll(ctx); err != nil {
		return fmt.Errorf("%w: waiting for the transaction's records: %w", ErrTxnTimeout, err)
	}
	if p.txn.machine.State() != txn.Committing {
		return p.txn.machine.Err() // a record failed: the transaction must be aborted
	}
	return p.endTxn(ctx, true)
}

// AbortTransaction fails the transaction's records not yet sent with
// ErrAborted (their callbacks run), waits for those in flight, and aborts:
// a read_committed consumer never sees any record of the transaction. The
// producer is then ready for the next transaction. After ErrTxnTimeout,
// calling AbortTransaction again is safe.
func (p *Producer) AbortTransaction(ctx context.Context) error {
	if p.txn == nil {
		return notTransactional()
	}
	if p.txn.machine.State() != txn.Aborting {
		if err := p.txn.machine.Transition(txn.Aborting); err != nil {
			return err
		}
	}
	if err := p.s.call(func() { p.s.failQueued(ErrAborted) }); err != nil {
		return err
	}
	if err := p.flushAll(ctx); err != nil {
		return fmt.Errorf("%w: waiting for the transaction's requests in flight: %w", ErrTxnTimeout, err)
	}
	return p.endTxn(ctx, false)
}

// endTxn ends the transaction at the coordinator and moves to the epoch the
// producer uses next.
func (p *Producer) endTxn(ctx context.Context, commit bool) error {
	// An AddPartitionsToTxn still running (its batches were aborted) must be
	// answered first, or it could reopen the transaction after EndTxn.
	adding, err := p.s.addingDone()
	if err != nil {
		return err
	}
	if adding != nil {
		select {
		case <-adding:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for AddPartitionsToTxn: %w", ErrTxnTimeout, ctx.Err())
		}
	}
	if !p.txn.touched.Load() {
		// Nothing joined the transaction: there is nothing to end.
		return p.txn.machine.Transition(txn.Ready)
	}
	id, err := p.s.currentID()
	if err != nil {
		return err
	}
	next, err := p.txn.coord.EndTxn(ctx, id, commit)
	if err != nil {
		p.txFailed(err)
		return err
	}
	broken, err := p.s.epochBroken()
	if err != nil {
		return err
	}
	if broken && next == id {
		// Sequences broke during the transaction and the coordinator kept
		// the epoch: take a new one so the next transaction starts clean.
		if err := p.txn.machine.Transition(txn.Initializing); err != nil {
			return err
		}
		if next, err = p.s.newProducerID(ctx, id); err != nil {
			p.txFailed(err)
			return err
		}
	}
	if err := p.s.adopt(next, true); err != nil {
		return err
	}
	p.txn.touched.Store(false)
	return p.txn.machine.Transition(txn.Ready)
}

// txFailed moves the state machine on an error from the coordinator: fenced
// and fatal errors end the producer, abortable ones the transaction. A
// timeout changes nothing.
func (p *Producer) txFailed(err error) {
	switch {
	case errors.Is(err, txn.ErrTimeout):
	case errors.Is(err, txn.ErrFenced), errors.Is(err, txn.ErrFatal):
		p.txn.machine.Fail(err, true)
		p.s.setFatal(err)
	case errors.Is(err, txn.ErrAbortable):
		p.txn.machine.Fail(err, false)
	}
}

// transition moves the state machine to `to` for a public call. Refused
// because the transaction or the producer failed (AbortableError,
// FatalError), the error is the failure itself, wrapping ErrAbortable,
// ErrFenced or ErrFatal, and not ErrInvalidState: the call was not out of
// order, the transaction broke.
func (p *Producer) transition(to txn.State) error {
	err := p.txn.machine.Transition(to)
	var se *txn.StateError
	if errors.As(err, &se) && se.Cause != nil && (se.From == txn.AbortableError || se.From == txn.FatalError) {
		return se.Cause
	}
	return err
}

// stateError explains why a call is refused in state st.
func (p *Producer) stateError(st txn.State, call string) error {
	if st == txn.AbortableError || st == txn.FatalError {
		return p.txn.machine.Err()
	}
	return fmt.Errorf("%w: %s in state %v", ErrInvalidState, call, st)
}
