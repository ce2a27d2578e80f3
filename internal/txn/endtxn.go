package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn commits (commit true) or aborts the open transaction of id with
// EndTxn, once every record of it was acknowledged. It returns the id to
// use next: with transactions v2 the coordinator bumps the epoch on every
// EndTxn and returns it; otherwise id itself.
//
// It is idempotent against a lost response: when the connection drops
// after the request went out, it asks again with the same decision, and
// a coordinator that already ended the transaction that way answers
// success (with v2, with the epoch it bumped to). That also holds when
// the call returned ErrTimeout and is made again with the same id and
// decision. Should such a retry be answered INVALID_TXN_STATE, the
// transaction's state is asked for (DescribeTransactions) to tell a
// transaction that ended as decided from one that did not.
//
// A transaction to which nothing was added (no partition, no offsets) is
// not to be ended: the producer skips EndTxn then.
func (c *Client) EndTxn(ctx context.Context, id idempotence.ID, commit bool) (idempotence.ID, error) {
	if err := checkID(id); err != nil {
		return id, err
	}
	what := "EndTxn(abort)"
	if commit {
		what = "EndTxn(commit)"
	}
	next := id
	err := c.atTxnCoordinator(ctx, what, func(ctx context.Context, p peer, k coordKey, co coord) (verdict, error) {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = c.txnID
		req.ProducerID, req.ProducerEpoch = id.ProducerID, id.Epoch
		req.Commit = commit
		max := int16(maxEndTxnClassicVersion)
		if c.V2() {
			max = maxEndTxnV2Version
		}
		raw, err := p.Request(ctx, capped{req, max})
		if err != nil {
			// The request may have reached the coordinator.
			c.setUnsure(&endAttempt{id: id, commit: commit})
			c.forget(k, co.node)
			return transportVerdict(err), fmt.Errorf("EndTxn to node %d: %w", co.node, err)
		}
		resp := raw.(*kmsg.EndTxnResponse)
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case err == nil:
			if resp.Version >= maxEndTxnV2Version && resp.ProducerID >= 0 && resp.ProducerEpoch >= 0 {
				next = idempotence.ID{ProducerID: resp.ProducerID, Epoch: resp.ProducerEpoch}
			}
			return vOK, nil
		case errors.Is(err, kerr.InvalidTxnState):
			return c.settle(ctx, p, co, id, commit, &next, err)
		}
		return c.judge(k, co, classify(err)), fmt.Errorf("node %d: %w", co.node, err)
	})
	if err == nil || !errors.Is(err, ErrTimeout) {
		c.setUnsure(nil)
	}
	if err != nil {
		return id, err
	}
	c.log.Info("txn: transaction ended", "commit", commit,
		"producer_id", id.ProducerID, "epoch", id.Epoch, "next_producer_id", next.ProducerID, "next_epoch", next.Epoch)
	return next, nil
}

func (c *Client) setUnsure(a *endAttempt) {
	c.mu.Lock()
	c.unsure = a
	c.mu.Unlock()
}

// isUnsure reports whether an EndTxn of id with this decision went out
// without an answer.
func (c *Client) isUnsure(id idempotence.ID, commit bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsure != nil && *c.unsure == endAttempt{id: id, commit: commit}
}

// Transaction states as DescribeTransactions names them.
const (
	statePrepareCommit  = "PrepareCommit"
	statePrepareAbort   = "PrepareAbort"
	stateCompleteCommit = "CompleteCommit"
	stateCompleteAbort  = "CompleteAbort"
)

// settle decides an EndTxn the coordinator, p, answered INVALID_TXN_STATE
// (cause) by asking it what state the transaction is in
// (DescribeTransactions).
//
// After an earlier attempt with the same decision got no answer, the
// transaction may simply have ended already: ended as decided is success,
// still ending is a retry, and a commit the coordinator aborted (its
// timeout passed) is abortable and wraps ErrAborted.
//
// Otherwise, a coordinator holding another producer id or a newer epoch
// for the transactional id means this producer was fenced (with
// transactions v2 an EndTxn from a fenced epoch can be answered
// INVALID_TXN_STATE rather than PRODUCER_FENCED). Anything else is the
// fatal cause.
func (c *Client) settle(ctx context.Context, p peer, co coord, id idempotence.ID, commit bool, next *idempotence.ID, cause error) (verdict, error) {
	k := c.txnKey()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{c.txnID}
	raw, v, err := c.send(ctx, p, k, co, req)
	if v != vOK {
		if v.final() {
			return vFatal, fmt.Errorf("%w (describing the transaction: %v)", cause, err)
		}
		return v, err
	}
	resp := raw.(*kmsg.DescribeTransactionsResponse)
	var st *kmsg.DescribeTransactionsResponseTransactionState
	for i := range resp.TransactionStates {
		if resp.TransactionStates[i].TransactionalID == c.txnID {
			st = &resp.TransactionStates[i]
		}
	}
	if st == nil {
		return vFatal, fmt.Errorf("%w (the coordinator did not describe the transaction)", cause)
	}
	if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
		if v := classify(err); !v.final() {
			return c.judge(k, co, v), err
		}
		return vFatal, fmt.Errorf("%w (describing the transaction: %v)", cause, err)
	}
	if c.isUnsure(id, commit) {
		done, doing := stateCompleteAbort, statePrepareAbort
		if commit {
			done, doing = stateCompleteCommit, statePrepareCommit
		}
		switch {
		case st.State == done:
			if c.V2() && st.ProducerID >= 0 && st.ProducerEpoch >= 0 {
				*next = idempotence.ID{ProducerID: st.ProducerID, Epoch: st.ProducerEpoch}
			}
			c.log.Info("txn: an EndTxn whose response was lost had ended the transaction", "commit", commit, "state", st.State)
			return vOK, nil
		case st.State == doing:
			return vRetrySoon, fmt.Errorf("transaction in state %s", st.State)
		case commit && (st.State == stateCompleteAbort || st.State == statePrepareAbort):
			return vAbortable, fmt.Errorf("%w by the coordinator (state %s) while the commit of %v was unanswered: %w", ErrAborted, st.State, id, cause)
		}
	}
	if st.ProducerID != id.ProducerID || st.ProducerEpoch > id.Epoch {
		return vFenced, fmt.Errorf("%w (the coordinator holds producer id %d epoch %d, state %q)", cause, st.ProducerID, st.ProducerEpoch, st.State)
	}
	return vFatal, fmt.Errorf("%w (transaction state %q)", cause, st.State)
}
