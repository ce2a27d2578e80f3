package metadata

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/kprod/kprod/internal/backoff"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// run is the refresh goroutine: it refreshes when triggered and when the
// snapshot reaches MaxAge, never starting two refreshes within
// MinInterval.
func (c *Client) run() {
	defer close(c.done)
	age := time.NewTimer(c.cfg.MaxAge)
	defer age.Stop()
	var last time.Time // start of the last refresh
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.trigger:
		case <-age.C:
		}
		if wait := c.cfg.MinInterval - time.Since(last); wait > 0 && !last.IsZero() {
			if backoff.Sleep(c.ctx, wait) != nil {
				return
			}
		}
		// Whoever asked until now is served by this refresh.
		select {
		case <-c.trigger:
		default:
		}
		last = time.Now()
		ok := c.refresh()
		age.Reset(c.cfg.MaxAge)
		if !ok && c.ctx.Err() == nil {
			c.Trigger("retrying a failed refresh")
		}
	}
}

// refresh fetches metadata for every topic in use, hands the brokers to
// the pool and publishes a new snapshot. It reports whether it succeeded.
func (c *Client) refresh() bool {
	c.mu.Lock()
	c.expireLocked(time.Now())
	topics := make([]string, 0, len(c.inUse))
	for name := range c.inUse {
		topics = append(topics, name)
	}
	c.mu.Unlock()
	slices.Sort(topics)

	resp, err := c.fetch(topics)
	if err != nil {
		if c.ctx.Err() != nil {
			err = errRefreshCanceled
		}
		c.log.Warn("metadata: refresh failed", "topics", len(topics), "err", err)
		c.finish(err)
		return false
	}

	setBrokers(c.pool, resp)

	now := time.Now()
	c.mu.Lock()
	old := *c.snap.Load()
	next := make(map[string]*Topic, len(c.inUse))
	for name, u := range c.inUse {
		if t := old[name]; t != nil {
			if t.use != u { // taken back after an idle drop: same data, new mark
				cp := *t
				cp.use = u
				t = &cp
			}
			next[name] = t
		}
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Topic == nil {
			continue
		}
		name := *rt.Topic
		u, ok := c.inUse[name]
		if !ok {
			continue // forgotten while the request was out
		}
		t := mergeTopic(rt, name, old[name], now)
		t.use = u
		if prev := old[name]; prev != nil && len(prev.Partitions) != len(t.Partitions) && t.Err == nil {
			c.log.Info("metadata: partition count changed", "topic", name, "from", len(prev.Partitions), "to", len(t.Partitions))
		}
		next[name] = t
	}
	c.publish(&next)
	c.mu.Unlock()
	c.cfg.OnUpdate() // before waking waiters: when Wait returns, OnUpdate has run
	c.finish(nil)
	return true
}

// fetch sends one Metadata request for topics to any broker.
func (c *Client) fetch(topics []string) (*kmsg.MetadataResponse, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	return request(ctx, c.pool, topics, c.cfg.AllowAutoCreate)
}

// RefreshBrokers asks any broker of pool for the cluster's brokers (a
// Metadata request naming no topics) and hands them to the pool, as every
// Client refresh does; for users of a pool without a Client, such as the
// transaction client looking for a coordinator the pool does not know.
func RefreshBrokers(ctx context.Context, pool *wire.Pool) error {
	resp, err := request(ctx, pool, nil, false)
	if err != nil {
		return err
	}
	setBrokers(pool, resp)
	return nil
}

// request sends one Metadata request for topics (none: brokers only) to
// any broker of pool.
func request(ctx context.Context, pool *wire.Pool, topics []string, autoCreate bool) (*kmsg.MetadataResponse, error) {
	conn, err := pool.Any(ctx)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics)) // empty, not nil: nil asks for every topic
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = autoCreate
	raw, err := conn.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("metadata: request to %s: %w", conn.Addr(), err)
	}
	return raw.(*kmsg.MetadataResponse), nil
}

// setBrokers hands the brokers a Metadata response lists to pool; an empty
// list leaves the pool's brokers as they were.
func setBrokers(pool *wire.Pool, resp *kmsg.MetadataResponse) {
	brokers := make(map[int32]string, len(resp.Brokers))
	for _, b := range resp.Brokers {
		brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if len(brokers) > 0 {
		pool.SetBrokers(brokers)
	}
}

// finish records a refresh attempt's outcome and wakes its waiters.
func (c *Client) finish(err error) {
	c.mu.Lock()
	c.lastErr = err
	close(c.refreshed)
	c.refreshed = make(chan struct{})
	c.mu.Unlock()
}
