package txn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupMetadata identifies the consumer whose offsets join a transaction,
// so the group coordinator can refuse a commit from a consumer that has
// been replaced (KIP-447). An offset commit without a live group uses
// Generation -1 and an empty MemberID.
type GroupMetadata struct {
	GroupID    string  // the consumer group whose offsets these are
	Generation int32   // the group generation the consumer is in; -1 for none
	MemberID   string  // the consumer's member id; "" for none
	InstanceID *string // group.instance.id of a static member, or nil
}

// Offset is a consumed position to commit with the transaction: the next
// offset to consume, as with any offset commit.
type Offset struct {
	Offset      int64
	LeaderEpoch int32   // leader epoch of the last consumed record; -1 when unknown
	Metadata    *string // optional; nil for none
}

// SendOffsets makes committing offsets (topic → partition → offset) for
// group part of the open transaction of id: they become visible when the
// transaction commits and are discarded when it aborts. The transaction
// coordinator learns of the group through AddOffsetsToTxn (skipped with
// transactions v2 when the group coordinator takes TxnOffsetCommit v5+,
// which adds the group itself); then the offsets go to the group's
// coordinator in TxnOffsetCommit. An empty offsets map does nothing.
//
// A commit the group refuses because the consumer is no longer a member
// (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID, ...) or is
// not authorized makes the error wrap ErrAbortable.
func (c *Client) SendOffsets(ctx context.Context, id idempotence.ID, offsets map[string]map[int32]Offset, group GroupMetadata) error {
	if err := checkID(id); err != nil {
		return err
	}
	if group.GroupID == "" {
		return fmt.Errorf("%w: empty group id", ErrInvalidArgument)
	}
	pending := make(map[string]map[int32]Offset, len(offsets))
	for t, ps := range offsets {
		if t == "" {
			return fmt.Errorf("%w: empty topic name", ErrInvalidArgument)
		}
		if len(ps) == 0 {
			continue
		}
		cp := make(map[int32]Offset, len(ps))
		for p, o := range ps {
			if p < 0 {
				return fmt.Errorf("%w: topic %q partition %d", ErrInvalidArgument, t, p)
			}
			cp[p] = o
		}
		pending[t] = cp
	}
	if len(pending) == 0 {
		return nil
	}
	gk := coordKey{coordGroup, group.GroupID}

	implicit := false
	if c.V2() {
		err := c.run(ctx, "FindCoordinator(group)", func(ctx context.Context) (verdict, error) {
			p, _, v, err := c.coordinator(ctx, gk)
			if v != vOK {
				return v, err
			}
			max, ok := p.MaxVersion(kmsg.TxnOffsetCommit.Int16())
			implicit = ok && max >= maxTxnOffsetCommitVersion
			return vOK, nil
		})
		if err != nil {
			return err
		}
	}
	if !implicit {
		if err := c.addOffsets(ctx, id, group.GroupID); err != nil {
			return err
		}
	}
	return c.run(ctx, "TxnOffsetCommit", func(ctx context.Context) (verdict, error) {
		p, co, v, err := c.coordinator(ctx, gk)
		if v != vOK {
			return v, err
		}
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID = c.txnID
		req.Group = group.GroupID
		req.ProducerID, req.ProducerEpoch = id.ProducerID, id.Epoch
		req.Generation, req.MemberID, req.InstanceID = group.Generation, group.MemberID, group.InstanceID
		req.Topics = offsetTopics(pending)
		raw, v, err := c.send(ctx, p, gk, co, capped{req, maxTxnOffsetCommitVersion})
		if v != vOK {
			return v, err
		}
		v, err = txnOffsetCommitOutcome(pending, raw.(*kmsg.TxnOffsetCommitResponse))
		return c.judge(gk, co, v), err
	})
}

// addOffsets tells the transaction coordinator that group's offsets join
// the transaction (AddOffsetsToTxn).
func (c *Client) addOffsets(ctx context.Context, id idempotence.ID, group string) error {
	return c.atTxnCoordinator(ctx, "AddOffsetsToTxn", func(ctx context.Context, p peer, k coordKey, co coord) (verdict, error) {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID = c.txnID
		req.ProducerID, req.ProducerEpoch = id.ProducerID, id.Epoch
		req.Group = group
		raw, v, err := c.send(ctx, p, k, co, req)
		if v != vOK {
			return v, err
		}
		err = kerr.ErrorForCode(raw.(*kmsg.AddOffsetsToTxnResponse).ErrorCode)
		if errors.Is(err, kerr.GroupAuthorizationFailed) {
			return vAbortable, fmt.Errorf("group %q: %w", group, err)
		}
		return c.judge(k, co, classify(err)), err
	})
}

// offsetTopics builds the request topics from pending, in name and
// partition order.
func offsetTopics(pending map[string]map[int32]Offset) []kmsg.TxnOffsetCommitRequestTopic {
	topics := make([]kmsg.TxnOffsetCommitRequestTopic, 0, len(pending))
	for t, ps := range pending {
		if len(ps) == 0 {
			continue
		}
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = t
		for p, o := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, o.Offset, o.LeaderEpoch, o.Metadata
			rt.Partitions = append(rt.Partitions, rp)
		}
		slices.SortFunc(rt.Partitions, func(a, b kmsg.TxnOffsetCommitRequestTopicPartition) int {
			return cmp.Compare(a.Partition, b.Partition)
		})
		topics = append(topics, rt)
	}
	slices.SortFunc(topics, func(a, b kmsg.TxnOffsetCommitRequestTopic) int { return cmp.Compare(a.Topic, b.Topic) })
	return topics
}

// txnOffsetCommitOutcome removes the partitions the response says were
// stored from pending and returns the verdict for the rest.
func txnOffsetCommitOutcome(pending map[string]map[int32]Offset, resp *kmsg.TxnOffsetCommitResponse) (verdict, error) {
	var f failures
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		ps := pending[rt.Topic]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if _, ok := ps[rp.Partition]; !ok {
				continue
			}
			err := kerr.ErrorForCode(rp.ErrorCode)
			if err == nil {
				delete(ps, rp.Partition)
				continue
			}
			f.note(txnOffsetCommitVerdict(err), rt.Topic, rp.Partition, err)
		}
	}
	left := 0
	for t, ps := range pending {
		if len(ps) == 0 {
			delete(pending, t)
		}
		left += len(ps)
	}
	if f.worst == vOK && left > 0 {
		return vRetry, fmt.Errorf("no answer for %d partitions", left)
	}
	return f.result()
}

// txnOffsetCommitVerdict maps a per-partition TxnOffsetCommit error.
func txnOffsetCommitVerdict(err error) verdict {
	switch {
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.StaleMemberEpoch),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.GroupIDNotFound),
		errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.OffsetMetadataTooLarge):
		// The consumer lost its partitions or may not commit them:
		// this transaction cannot commit its offsets.
		return vAbortable
	case errors.Is(err, kerr.RequestTimedOut):
		return vRediscover
	}
	return classify(err)
}
