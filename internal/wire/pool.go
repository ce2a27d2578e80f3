package wire

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kprod/kprod/internal/backoff"
)

// Pool holds the connections to one cluster's brokers: per broker, one
// connection per Purpose. Connections are dialed on demand, redialed after
// a reconnect backoff when they fail, and replaced shortly before a SASL
// session lifetime ends. A Pool is safe for concurrent use.
type Pool struct {
	set    *settings
	ctx    context.Context // canceled by Close; aborts running dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // dial goroutines and backoff-timer callbacks

	mu     sync.Mutex // guards everything below and every endpoint
	closed bool
	// lastDialErr is why the latest dial failed; nil after a dial that worked.
	lastDialErr error
	brokers     map[int32]*endpoint
	seeds       []*endpoint
	retired     map[*Conn]struct{} // replaced conns still finishing their requests
	idleTimer   *time.Timer        // runs reapIdle; nil when IdleTimeout is off
}

// endpoint is one broker address. Its address never changes: a broker that
// moves gets a new endpoint.
type endpoint struct {
	id      int32 // node id; seeds get negative ids
	addr    string
	removed bool // dropped by SetBrokers or Close; late dials are discarded
	slots   [numPurposes]slot
}

// slot is the connection state for one endpoint and purpose.
type slot struct {
	conn     *Conn
	dialing  bool
	dialDone chan struct{} // closed when the running dial ends
	failures int           // consecutive failed dials or drops since the last success
	retryAt  time.Time     // no dial starts before this
	lastErr  error
	dialErr  *NotReadyError // what Ready returns while a dial runs
	waitErr  *NotReadyError // what Ready returns while backing off
	timer    *time.Timer    // pokes OnChange when the backoff ends
}

// NewPool returns a pool for the cluster reachable through seeds
// ("host:port" each). A malformed seed is an error naming it that wraps
// ErrInvalidAddress. Nothing is dialed until a connection is asked for.
func NewPool(cfg *Config, seeds []string) (*Pool, error) {
	set, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: no seed brokers", ErrInvalidAddress)
	}
	p := &Pool{
		set:     set,
		brokers: make(map[int32]*endpoint),
		retired: make(map[*Conn]struct{}),
	}
	for i, addr := range seeds {
		if _, err := splitAddr(addr); err != nil {
			return nil, fmt.Errorf("seed %d: %w", i, err)
		}
		p.seeds = append(p.seeds, &endpoint{id: -1 - int32(i), addr: addr})
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if set.idle > 0 {
		p.idleTimer = time.AfterFunc(set.idle, p.reapIdle)
	}
	return p, nil
}

// reapIdle runs on a timer goroutine: it closes the slot connections that
// had nothing in flight and nothing handed out or sent for IdleTimeout, and
// re-arms itself for the earliest next expiry. A closed slot redials on its
// next use without backoff. Hand-outs stamp the conn under p.mu, so a conn
// handed out concurrently is never taken here.
func (p *Pool) reapIdle() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	defer p.wg.Done()
	now := time.Now()
	cutoff := now.Add(-p.set.idle).UnixNano()
	next := now.Add(p.set.idle).UnixNano()
	var idle []*Conn
	check := func(ep *endpoint) {
		for i := range ep.slots {
			c := ep.slots[i].conn
			if c == nil {
				continue
			}
			if c.idleSince(cutoff) && c.closeIfIdle(cutoff) {
				ep.slots[i].conn = nil
				idle = append(idle, c)
				continue
			}
			at := c.lastUse.Load() + int64(p.set.idle)
			if at <= now.UnixNano() {
				// Past its idle time but busy (a request in flight) or
				// dying: look again a quarter period on, not at once.
				at = now.Add(p.set.idle / 4).UnixNano()
			}
			next = min(next, at)
		}
	}
	for _, ep := range p.brokers {
		check(ep)
	}
	for _, ep := range p.seeds {
		check(ep)
	}
	p.idleTimer.Reset(max(time.Duration(next-now.UnixNano()), time.Millisecond))
	p.mu.Unlock()
	for _, c := range idle {
		p.set.log.Debug("wire: closed an idle connection", "addr", c.addr)
		<-c.exited
	}
}

// SetBrokers replaces the known brokers (node id → host:port, from
// metadata). Connections to brokers that are gone or moved are closed;
// once brokers are known, idle connections to the seeds are closed as they
// finish, since the brokers themselves serve from now on.
func (p *Pool) SetBrokers(brokers map[int32]string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	var toClose, toRetire []*Conn
	for id, ep := range p.brokers {
		if addr, ok := brokers[id]; ok && addr == ep.addr {
			continue
		}
		toClose = p.detachLocked(ep, toClose)
		delete(p.brokers, id)
	}
	for id, addr := range brokers {
		if _, ok := p.brokers[id]; ok {
			continue
		}
		if _, err := splitAddr(addr); err != nil {
			p.set.log.Warn("wire: ignoring broker with a bad address", "node", id, "err", err)
			continue
		}
		p.brokers[id] = &endpoint{id: id, addr: addr}
	}
	if len(p.brokers) > 0 {
		for _, ep := range p.seeds {
			s := &ep.slots[Control]
			if s.conn != nil {
				toRetire = append(toRetire, s.conn)
				p.retired[s.conn] = struct{}{}
				s.conn = nil
			}
		}
	}
	p.mu.Unlock()
	for _, c := range toClose {
		_ = c.Close()
	}
	for _, c := range toRetire {
		c.retire()
	}
}

// detachLocked marks ep removed, stops its timers and appends its conns to
// dst for closing once the lock is released.
func (p *Pool) detachLocked(ep *endpoint, dst []*Conn) []*Conn {
	ep.removed = true
	for i := range ep.slots {
		s := &ep.slots[i]
		if s.timer != nil {
			s.timer.Stop()
		}
		if s.conn != nil {
			dst = append(dst, s.conn)
			s.conn = nil
		}
	}
	return dst
}

// Broker returns the address of a known broker.
func (p *Pool) Broker(node int32) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ep := p.brokers[node]; ep != nil {
		return ep.addr, true
	}
	return "", false
}

// Ready is the sender's non-blocking call. It returns a live connection to
// node for purpose, or an error: a *NotReadyError (matching ErrNotReady)
// while a dial runs in the background — started here unless one is running
// or the broker is in reconnect backoff, in which case the error carries
// the retry time and the last dial error — or ErrUnknownBroker /
// ErrPoolClosed. Config.OnChange fires when the dial ends or the backoff
// expires. Ready never blocks on the network and does not allocate when
// it returns a connection.
func (p *Pool) Ready(node int32, purpose Purpose) (*Conn, error) {
	if !purpose.valid() {
		return nil, fmt.Errorf("%w: purpose %d", ErrInvalidConfig, purpose)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	ep := p.brokers[node]
	if ep == nil {
		return nil, fmt.Errorf("%w: node %d", ErrUnknownBroker, node)
	}
	return p.readyLocked(ep, purpose, time.Now())
}

// readyLocked returns the live conn of a slot or starts a dial when none is
// running and the backoff allows.
func (p *Pool) readyLocked(ep *endpoint, purpose Purpose, now time.Time) (*Conn, error) {
	s := &ep.slots[purpose]
	if c := s.conn; c != nil {
		switch {
		case !c.alive():
			s.conn = nil
			p.backoffLocked(ep, purpose, now, c.Err())
		case c.reauthAt.IsZero() || now.Before(c.reauthAt):
			c.lastUse.Store(now.UnixNano())
			return c, nil
		case now.Before(c.retireAt):
			// The SASL session ends soon: dial its successor while
			// this conn keeps serving.
			if !s.dialing {
				p.startDialLocked(ep, purpose)
			}
			c.lastUse.Store(now.UnixNano())
			return c, nil
		default:
			s.conn = nil
			p.retired[c] = struct{}{}
			c.retire()
		}
	}
	switch {
	case s.dialing:
		return nil, s.dialErr
	case now.Before(s.retryAt):
		return nil, s.waitErr
	}
	p.startDialLocked(ep, purpose)
	return nil, s.dialErr
}

func (p *Pool) startDialLocked(ep *endpoint, purpose Purpose) {
	s := &ep.slots[purpose]
	s.dialing = true
	s.dialDone = make(chan struct{})
	if s.dialErr == nil {
		s.dialErr = &NotReadyError{Node: ep.id, Addr: ep.addr, Purpose: purpose, Dialing: true}
	}
	p.wg.Add(1)
	go p.runDial(ep, purpose)
}

// backoffLocked starts a reconnect backoff after a failed dial or a
// dropped connection.
func (p *Pool) backoffLocked(ep *endpoint, purpose Purpose, now time.Time, cause error) {
	s := &ep.slots[purpose]
	// Doubling per consecutive failure up to the maximum, ±20% so that
	// clients losing the same broker do not come back in lockstep.
	d := backoff.Exp(p.set.backoffBase, p.set.backoffMax, s.failures)
	s.failures++
	s.retryAt = now.Add(d)
	s.lastErr = cause
	s.waitErr = &NotReadyError{Node: ep.id, Addr: ep.addr, Purpose: purpose, RetryAt: s.retryAt, Err: cause}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(d, p.backoffEnded)
}

// backoffEnded runs on a timer goroutine: the sender may dial again.
func (p *Pool) backoffEnded() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	p.set.onChange()
}

func (p *Pool) runDial(ep *endpoint, purpose Purpose) {
	defer p.wg.Done()
	c, err := dial(p.ctx, ep.id, ep.addr, p.set, func(dead *Conn) { p.connDied(ep, purpose, dead) })
	now := time.Now()

	p.mu.Lock()
	s := &ep.slots[purpose]
	s.dialing = false
	close(s.dialDone)
	s.dialDone = nil
	var discard, replaced *Conn
	switch {
	case p.closed || ep.removed:
		discard = c
	case err != nil:
		p.lastDialErr = err
		p.backoffLocked(ep, purpose, now, err)
		p.set.log.Warn("wire: dial failed", "node", ep.id, "addr", ep.addr, "purpose", purpose,
			"retry_in", s.retryAt.Sub(now), "err", err)
	default:
		p.lastDialErr = nil
		s.failures, s.lastErr, s.retryAt = 0, nil, time.Time{}
		if s.conn != nil {
			replaced = s.conn
			p.retired[replaced] = struct{}{}
		}
		s.conn = c
	}
	p.mu.Unlock()

	if discard != nil {
		_ = discard.Close()
	}
	if replaced != nil {
		replaced.retire()
	}
	p.set.onChange()
}

// connDied runs on a conn's reader goroutine when the conn is dead.
func (p *Pool) connDied(ep *endpoint, purpose Purpose, c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.retired, c)
	s := &ep.slots[purpose]
	if s.conn == c && !p.closed && !ep.removed {
		s.conn = nil
		p.backoffLocked(ep, purpose, time.Now(), c.Err())
	}
}

// Conn is the blocking form of Ready for control requests: it waits for a
// live connection to node — dialing, and honouring the reconnect backoff —
// until ctx ends. The error then wraps ctx's error and the last dial error.
func (p *Pool) Conn(ctx context.Context, node int32, purpose Purpose) (*Conn, error) {
	if !purpose.valid() {
		return nil, fmt.Errorf("%w: purpose %d", ErrInvalidConfig, purpose)
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		ep := p.brokers[node]
		if ep == nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: node %d", ErrUnknownBroker, node)
		}
		c, _ := p.readyLocked(ep, purpose, time.Now())
		s := &ep.slots[purpose]
		wait, retryAt, lastErr := s.dialDone, s.retryAt, s.lastErr
		p.mu.Unlock()
		if c != nil {
			return c, nil
		}
		if err := p.await(ctx, wait, retryAt); err != nil {
			return nil, fmt.Errorf("wire: no %s connection to broker %d: %w", purpose, node, withCause(err, lastErr))
		}
	}
}

// Any returns a live Control connection to some broker — known brokers
// first, then the seeds, each group in random order — preferring an
// existing connection, else dialing them one at a time until one works or
// ctx ends. Metadata and FindCoordinator requests use it.
func (p *Pool) Any(ctx context.Context) (*Conn, error) {
	var lastErr error
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		cands := p.candidatesLocked()
		now := time.Now()
		for _, ep := range cands {
			if c := ep.slots[Control].conn; c != nil && c.alive() && (c.retireAt.IsZero() || now.Before(c.retireAt)) {
				c.lastUse.Store(now.UnixNano())
				p.mu.Unlock()
				return c, nil
			}
		}
		var wait chan struct{}
		var earliest time.Time
		refused := len(cands) > 0 // every candidate refused us (TLS or SASL) on its last dial
		for _, ep := range cands {
			c, _ := p.readyLocked(ep, Control, now)
			if c != nil {
				p.mu.Unlock()
				return c, nil
			}
			s := &ep.slots[Control]
			if s.lastErr != nil {
				lastErr = s.lastErr
			}
			refused = refused && !s.dialing && s.lastErr != nil && refusal(s.lastErr)
			if s.dialing {
				wait = s.dialDone
				break
			}
			if earliest.IsZero() || s.retryAt.Before(earliest) {
				earliest = s.retryAt
			}
		}
		p.mu.Unlock()
		if refused {
			// Credentials or certificates do not fix themselves: say so now
			// rather than when ctx ends.
			return nil, fmt.Errorf("wire: every broker refused the connection: %w", lastErr)
		}
		if err := p.await(ctx, wait, earliest); err != nil {
			return nil, fmt.Errorf("wire: no broker reachable: %w", withCause(err, lastErr))
		}
	}
}

// LastDialError is why the most recent dial failed, or nil when the most
// recent dial worked: the cause to report when no broker could be reached.
func (p *Pool) LastDialError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastDialErr
}

// refusal reports dial errors that retrying soon will not cure: a failed TLS
// handshake or SASL authentication.
func refusal(err error) bool { return errors.Is(err, ErrTLS) || errors.Is(err, ErrSASL) }

// candidatesLocked lists the known brokers, then the seeds, each group
// shuffled.
func (p *Pool) candidatesLocked() []*endpoint {
	out := make([]*endpoint, 0, len(p.brokers)+len(p.seeds))
	for _, ep := range p.brokers {
		out = append(out, ep)
	}
	n := len(out)
	rand.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	out = append(out, p.seeds...)
	seeds := out[n:]
	rand.Shuffle(len(seeds), func(i, j int) { seeds[i], seeds[j] = seeds[j], seeds[i] })
	return out
}

// await blocks until wait is closed (when non-nil) or until retryAt, or
// until ctx ends or the pool closes.
func (p *Pool) await(ctx context.Context, wait <-chan struct{}, retryAt time.Time) error {
	if wait == nil {
		t := time.NewTimer(time.Until(retryAt))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return ErrPoolClosed
		}
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return ErrPoolClosed
	}
}

// withCause joins the reason for giving up with the last dial error.
func withCause(err, last error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w; last error: %w", err, last)
}

// Close closes every connection, aborts running dials and returns once
// every goroutine the pool started has stopped. It must not be called from
// a done callback of one of the pool's connections.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	p.cancel()
	if p.idleTimer != nil {
		p.idleTimer.Stop()
	}
	var conns []*Conn
	for _, ep := range p.brokers {
		conns = p.detachLocked(ep, conns)
	}
	for _, ep := range p.seeds {
		conns = p.detachLocked(ep, conns)
	}
	for c := range p.retired {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}
