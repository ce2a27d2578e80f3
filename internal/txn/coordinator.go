package txn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (k coordKey) String() string {
	if k.typ == coordTxn {
		return fmt.Sprintf("transaction coordinator of %q", k.key)
	}
	return fmt.Sprintf("group coordinator of %q", k.key)
}

// txnKey is the coordinator key of this client's transactional id.
func (c *Client) txnKey() coordKey { return coordKey{coordTxn, c.txnID} }

// coordinator returns a connection to the coordinator of k, looking the
// coordinator up first when it is not known.
func (c *Client) coordinator(ctx context.Context, k coordKey) (peer, coord, verdict, error) {
	c.mu.Lock()
	co, ok := c.coords[k]
	c.mu.Unlock()
	if !ok {
		var v verdict
		var err error
		if co, v, err = c.findCoordinator(ctx, k); v != vOK {
			return nil, co, v, err
		}
		c.mu.Lock()
		c.coords[k] = co
		c.mu.Unlock()
		c.log.Info("txn: found coordinator", "coordinator", k.String(), "node", co.node, "addr", co.addr)
	}
	p, err := c.dial.broker(ctx, co.node, co.addr)
	if err != nil {
		c.forget(k, co.node)
		return nil, co, transportVerdict(err), fmt.Errorf("connecting to the %s (node %d): %w", k, co.node, err)
	}
	return p, co, vOK, nil
}

// forget drops the coordinator of k if it is still node, so the next
// attempt looks it up again.
func (c *Client) forget(k coordKey, node int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if co, ok := c.coords[k]; ok && co.node == node {
		delete(c.coords, k)
	}
}

// findCoordinator asks any broker which broker coordinates k.
func (c *Client) findCoordinator(ctx context.Context, k coordKey) (coord, verdict, error) {
	p, err := c.dial.anyBroker(ctx)
	if err != nil {
		return coord{node: -1}, transportVerdict(err), err
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = k.typ
	req.CoordinatorKey = k.key            // up to v3
	req.CoordinatorKeys = []string{k.key} // v4+
	raw, err := p.Request(ctx, req)
	if err != nil {
		return coord{node: -1}, transportVerdict(err), fmt.Errorf("FindCoordinator: %w", err)
	}
	resp := raw.(*kmsg.FindCoordinatorResponse)
	code, node, host, port := resp.ErrorCode, resp.NodeID, resp.Host, resp.Port
	if len(resp.Coordinators) > 0 {
		rc := &resp.Coordinators[0]
		code, node, host, port = rc.ErrorCode, rc.NodeID, rc.Host, rc.Port
	}
	if err := kerr.ErrorForCode(code); err != nil {
		v := classify(err)
		switch {
		case errors.Is(err, kerr.GroupAuthorizationFailed):
			v = vAbortable // offsets cannot join this transaction
		case v == vRediscover:
			v = vRetry // nothing cached to forget: ask again
		}
		return coord{node: -1}, v, fmt.Errorf("FindCoordinator for the %s: %w", k, err)
	}
	if node < 0 {
		return coord{node: -1}, vRetry, fmt.Errorf("FindCoordinator for the %s: no coordinator (node %d)", k, node)
	}
	return coord{node: node, addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}, vOK, nil
}

// send sends req to p, the coordinator of k at co. A failed request
// means the coordinator may be gone: it is forgotten.
func (c *Client) send(ctx context.Context, p peer, k coordKey, co coord, req kmsg.Request) (kmsg.Response, verdict, error) {
	resp, err := p.Request(ctx, req)
	if err != nil {
		c.forget(k, co.node)
		return nil, transportVerdict(err), fmt.Errorf("%s to node %d: %w", kmsg.NameForKey(req.Key()), co.node, err)
	}
	return resp, vOK, nil
}

// judge records what verdict v, about the coordinator of k at co, means for
// the cache: a coordinator that moved is forgotten.
func (c *Client) judge(k coordKey, co coord, v verdict) verdict {
	if v == vRediscover {
		c.forget(k, co.node)
	}
	return v
}
