package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitions registers partitions (topic → partitions) with the open
// transaction of id: the classic flow does this before the first batch
// to each partition is sent. All of them go in one AddPartitionsToTxn
// request; partitions the coordinator could not add yet are asked for
// again until all are in or one fails for good.
//
// A partition the producer may not write to (TOPIC_AUTHORIZATION_FAILED)
// makes the error wrap ErrAbortable; a fenced or invalid epoch, ErrFenced;
// other non-retriable errors, ErrFatal. Broker errors are wrapped too.
func (c *Client) AddPartitions(ctx context.Context, id idempotence.ID, parts map[string][]int32) error {
	if err := checkID(id); err != nil {
		return err
	}
	var pending PartitionSet
	for t, ps := range parts {
		if t == "" {
			return fmt.Errorf("%w: empty topic name", ErrInvalidArgument)
		}
		for _, p := range ps {
			if p < 0 {
				return fmt.Errorf("%w: topic %q partition %d", ErrInvalidArgument, t, p)
			}
			pending.Add(t, p)
		}
	}
	if pending.Len() == 0 {
		return nil
	}
	return c.atTxnCoordinator(ctx, "AddPartitionsToTxn", func(ctx context.Context, p peer, k coordKey, co coord) (verdict, error) {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID = c.txnID
		req.ProducerID, req.ProducerEpoch = id.ProducerID, id.Epoch
		for _, tp := range pending.sorted() {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = tp.topic, tp.partitions
			req.Topics = append(req.Topics, rt)
		}
		raw, v, err := c.send(ctx, p, k, co, capped{req, maxAddPartitionsVersion})
		if v != vOK {
			return v, err
		}
		v, err = addPartitionsOutcome(&pending, raw.(*kmsg.AddPartitionsToTxnResponse))
		return c.judge(k, co, v), err
	})
}

// addPartitionsOutcome removes the partitions the response says were
// added from pending and returns the verdict for the rest: the worst of
// their per-partition verdicts, or a retry when the response left some
// out.
func addPartitionsOutcome(pending *PartitionSet, resp *kmsg.AddPartitionsToTxnResponse) (verdict, error) {
	var f failures
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil { // v4+ only; zero below
		f.note(classify(err), "", -1, err)
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if !pending.Has(rt.Topic, rp.Partition) {
				continue // not asked for, or already answered
			}
			err := kerr.ErrorForCode(rp.ErrorCode)
			if err == nil {
				pending.Remove(rt.Topic, rp.Partition)
				continue
			}
			f.note(addPartitionVerdict(err), rt.Topic, rp.Partition, err)
		}
	}
	if f.worst == vOK && pending.Len() > 0 {
		return vRetry, fmt.Errorf("no answer for %d partitions", pending.Len())
	}
	return f.result()
}

// addPartitionVerdict maps a per-partition AddPartitionsToTxn error.
func addPartitionVerdict(err error) verdict {
	switch {
	case errors.Is(err, kerr.OperationNotAttempted):
		return vRetry // another partition of the request failed
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return vAbortable
	}
	return classify(err)
}
