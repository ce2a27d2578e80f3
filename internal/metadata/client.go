package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Client caches cluster metadata for the producer. Its methods are safe
// for concurrent use; one goroutine, started by New, does the refreshes.
type Client struct {
	pool *wire.Pool
	cfg  Config
	log  *slog.Logger

	// snap is the published snapshot: an immutable map, replaced whole by
	// the refresh goroutine, read without locks.
	snap atomic.Pointer[map[string]*Topic]
	// gen counts the snapshots published (bumped after each store), so a
	// caller can keep a Topic and know it is current while gen is unchanged.
	gen atomic.Uint64

	mu        sync.Mutex        // guards the fields below
	inUse     map[string]*usage // topics every refresh asks for
	refreshed chan struct{}     // closed when the next refresh attempt ends
	lastErr   error             // why the last refresh failed; nil after a success

	trigger   chan struct{} // capacity 1: a refresh is wanted
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // closed when the refresh goroutine returned
	closeOnce sync.Once
}

// New returns a client that refreshes through pool and starts its refresh
// goroutine. Nothing is fetched until a topic is asked for.
func New(pool *wire.Pool, cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		pool:      pool,
		cfg:       cfg,
		log:       cfg.Logger,
		inUse:     make(map[string]*usage),
		refreshed: make(chan struct{}),
		trigger:   make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	empty := map[string]*Topic{}
	c.snap.Store(&empty)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c
}

// Topic returns the cached snapshot of a topic, or nil when it was never
// loaded. It takes no lock and does not allocate: it is on every record's
// path.
func (c *Client) Topic(name string) *Topic {
	return (*c.snap.Load())[name]
}

// TopicGen is Topic with the generation of the snapshot it was read from.
// A caller may keep the Topic and use it while Generation still returns
// that number, instead of looking it up for every record.
func (c *Client) TopicGen(name string) (*Topic, uint64) {
	g := c.gen.Load() // before the snapshot: a publish in between only makes g look old
	return (*c.snap.Load())[name], g
}

// Generation is the number of the snapshot last published.
func (c *Client) Generation() uint64 { return c.gen.Load() }

// publish makes next the snapshot; c.mu is held.
func (c *Client) publish(next *map[string]*Topic) {
	c.snap.Store(next)
	c.gen.Add(1)
}

// Wait returns the topic's snapshot, at once when it is cached with
// partitions. Otherwise it adds the topic to those in use, asks for a
// refresh and waits for it. A topic the cluster does not have is asked for
// again (a refresh per MinInterval at most) until ctx ends; the error then
// wraps ctx's error, and ErrUnknownTopic only if a broker answered that
// the topic does not exist (not when no broker could be asked). A
// non-retriable topic error (authorization, invalid name) returns at once,
// wrapping the kerr error.
func (c *Client) Wait(ctx context.Context, name string) (*Topic, error) {
	if t := c.Topic(name); t != nil && len(t.Partitions) > 0 {
		t.MarkUsed()
		return t, nil
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.useLocked(name)
	c.mu.Unlock()

	for {
		c.mu.Lock()
		refreshed := c.refreshed
		c.mu.Unlock()
		c.Trigger("waiting for topic")
		select {
		case <-refreshed:
		case <-ctx.Done():
			return nil, c.waitErr(name, ctx.Err())
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
		c.mu.Lock()
		lastErr := c.lastErr
		c.mu.Unlock()
		if lastErr != nil && (errors.Is(lastErr, wire.ErrTLS) || errors.Is(lastErr, wire.ErrSASL)) {
			// Every broker refused us: waiting longer will not help.
			return nil, fmt.Errorf("metadata: topic %q: %w", name, lastErr)
		}
		t := c.Topic(name)
		switch {
		case t == nil:
			// The refresh started before the topic was added, or failed.
		case len(t.Partitions) > 0:
			return t, nil
		case t.Err != nil && !kerr.IsRetriable(t.Err):
			return nil, fmt.Errorf("metadata: topic %q: %w", name, t.Err)
		}
	}
}

// useLocked adds name to the topics in use, or marks it used if it is.
func (c *Client) useLocked(name string) {
	u := c.inUse[name]
	if u == nil {
		u = &usage{c: c, name: name}
		c.inUse[name] = u
	}
	u.used.Store(true)
}

// Want keeps name among the topics refreshed, taking it back if it was
// dropped as idle, and asks for a refresh: for a topic that has records to
// send but no cached metadata (a Send marking a dropped topic used comes
// here too).
func (c *Client) Want(name string) {
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.useLocked(name)
	c.mu.Unlock()
	c.Trigger("idle topic used again")
}

// expireLocked drops the topics not marked used for MaxIdle, stamping the
// others that were marked since the last refresh.
func (c *Client) expireLocked(now time.Time) {
	for name, u := range c.inUse {
		if u.used.Swap(false) || u.lastUsed.IsZero() {
			u.lastUsed = now
			continue
		}
		if c.cfg.MaxIdle < 0 || now.Sub(u.lastUsed) < c.cfg.MaxIdle {
			continue
		}
		u.dropped.Store(true)
		if u.used.Load() {
			// Marked in between: it stays.
			u.dropped.Store(false)
			u.lastUsed = now
			continue
		}
		delete(c.inUse, name)
		c.log.Debug("metadata: dropping idle topic", "topic", name, "idle", now.Sub(u.lastUsed))
	}
}

// waitErr says why Wait gave up on a topic when its ctx ended.
func (c *Client) waitErr(name string, ctxErr error) error {
	t := c.Topic(name)
	c.mu.Lock()
	lastErr := c.lastErr
	c.mu.Unlock()
	if lastErr == nil {
		if dialErr := c.pool.LastDialError(); dialErr != nil {
			lastErr = fmt.Errorf("cannot reach a broker: %w", dialErr)
		}
	}
	switch {
	case t.unknown():
		return fmt.Errorf("%w: %q: a broker answered that the topic does not exist: %w", ErrUnknownTopic, name, ctxErr)
	case t != nil && t.Err != nil:
		return fmt.Errorf("metadata: topic %q has no partitions yet: %w (%w)", name, t.Err, ctxErr)
	case lastErr != nil:
		return fmt.Errorf("metadata: no metadata for topic %q; last refresh failed: %w (%w)", name, lastErr, ctxErr)
	}
	return fmt.Errorf("metadata: no metadata for topic %q yet: %w", name, ctxErr)
}

// Trigger asks for a refresh soon. Requests are coalesced, and refreshes
// start at most once per MinInterval; the sender calls it on errors such
// as NOT_LEADER_OR_FOLLOWER. It never blocks.
func (c *Client) Trigger(reason string) {
	select {
	case c.trigger <- struct{}{}:
		c.log.Debug("metadata: refresh requested", "reason", reason)
	default:
	}
}

// Forget stops refreshing a topic and drops it from the cache.
func (c *Client) Forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inUse, name)
	old := *c.snap.Load()
	if _, ok := old[name]; !ok {
		return
	}
	next := make(map[string]*Topic, len(old))
	for k, v := range old {
		if k != name {
			next[k] = v
		}
	}
	c.publish(&next)
}

// Close stops the refresh goroutine and waits for it. Waiters get
// ErrClosed. The pool is not closed: it belongs to the caller.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cancel()
		c.mu.Unlock()
	})
	<-c.done
}

// errRefreshCanceled marks a refresh cut short by Close.
var errRefreshCanceled = errors.New("metadata: refresh canceled")
