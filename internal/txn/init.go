package txn

import (
	"context"
	"fmt"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerID obtains the producer id and epoch for the transactional
// id from its coordinator (InitProducerId with the transaction timeout).
// The coordinator bumps the epoch, which fences any older producer with
// the same transactional id, and aborts or completes that producer's open
// transaction first.
//
// current is the id held so far, or idempotence.None the first time. A
// valid current id asks the coordinator to bump that id's epoch (after an
// aborted transaction whose producer state must be reset); an epoch newer
// than the coordinator's is refused with ErrFenced.
//
// It also learns whether the coordinator speaks transactions v2 (see V2)
// and forgets any EndTxn whose outcome was unknown: the new epoch settled
// it.
func (c *Client) InitProducerID(ctx context.Context, current idempotence.ID) (idempotence.ID, error) {
	id := idempotence.None
	err := c.atTxnCoordinator(ctx, "InitProducerId", func(ctx context.Context, p peer, k coordKey, co coord) (verdict, error) {
		req := idempotence.InitRequest(&c.txnID, c.cfg.Timeout, current)
		raw, v, err := c.send(ctx, p, k, co, req)
		if v != vOK {
			return v, err
		}
		got, err := idempotence.InitAnswer(raw.(*kmsg.InitProducerIDResponse))
		if err != nil {
			return c.judge(k, co, classify(err)), fmt.Errorf("node %d: %w", co.node, err)
		}
		id = got
		c.v2.Store(speaksV2(p))
		return vOK, nil
	})
	if err != nil {
		return idempotence.None, err
	}
	c.mu.Lock()
	c.unsure = nil
	c.mu.Unlock()
	c.log.Info("txn: producer id initialized", "producer_id", id.ProducerID, "epoch", id.Epoch, "v2", c.V2())
	return id, nil
}

// speaksV2 reports whether the broker runs transactions v2: it offers
// EndTxn v5+ and the cluster finalized transaction.version 2 or later. A
// broker can offer EndTxn v5 while the cluster still runs the classic
// protocol, hence the feature check.
func speaksV2(p peer) bool {
	v, ok := p.MaxVersion(kmsg.EndTxn.Int16())
	if !ok || v < maxEndTxnV2Version {
		return false
	}
	level, ok := p.Feature("transaction.version")
	return ok && level >= 2
}
