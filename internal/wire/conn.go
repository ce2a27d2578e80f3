package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Conn is one broker connection with pipelined requests: writes go out in
// call order, and one reader goroutine reads the responses, which Kafka
// returns in request order, and matches them by correlation id.
//
// A Conn is safe for concurrent use. It is created by Dial (or by a Pool)
// and is dead once Done is closed; it never reconnects.
type Conn struct {
	node     int32 // broker node id; negative for a seed or a lone Dial
	addr     string
	set      *settings
	nc       net.Conn      // TLS-wrapped when configured
	br       *bufio.Reader // owned by the dialer, then by the reader goroutine
	fr       frameReader   // reads frames from br; owned like it
	versions *versionTable // immutable after the dial
	features map[string]int16

	// SASL session times, zero when the broker set no session lifetime;
	// immutable after the dial. The pool replaces the conn after reauthAt
	// and stops handing it out after retireAt.
	sessionExpiry time.Time
	reauthAt      time.Time
	retireAt      time.Time

	onDead func(*Conn) // set before the reader starts; runs on it at exit

	wmu       sync.Mutex // serializes writes; guards corr and wdeadline
	corr      int32      // last correlation id used
	wdeadline bool       // a write deadline is set on nc

	mu         sync.Mutex   // guards the fields below
	queue      pendingQueue // requests awaiting a response, in write order
	rdeadline  time.Time    // read deadline currently set on nc
	err        error        // why the conn died; nil while alive
	othersErr  error        // what in-flight requests other than a timed-out one get
	timedOut   int32        // correlation id of the request that timed out
	timedOutOK bool         // timedOut is set
	retiring   bool         // close as soon as nothing is in flight

	inflight atomic.Int32
	lastUse  atomic.Int64  // unix nanos of the latest hand-out by the pool or Send; the idle check reads it
	throttle atomic.Int64  // unix nanos until which the broker asked us to hold off
	dead     chan struct{} // closed when the conn is dead
	exited   chan struct{} // closed when the reader goroutine returned
}

func newConn(node int32, addr string, set *settings, nc net.Conn) *Conn {
	c := &Conn{
		node:   node,
		addr:   addr,
		set:    set,
		nc:     nc,
		dead:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	c.lastUse.Store(time.Now().UnixNano())
	return c
}

// Addr returns the broker's host:port.
func (c *Conn) Addr() string { return c.addr }

// MaxVersion returns the version Send uses for key: the lowest of the
// broker's max, the highest kmsg knows and the configured cap. ok is false
// when the broker lacks the key or no version is usable by both sides.
func (c *Conn) MaxVersion(key int16) (int16, bool) { return c.versions.lookup(key) }

// Feature returns the finalized level of a cluster feature (KIP-584, for
// example "transaction.version") as announced during the dial.
func (c *Conn) Feature(name string) (level int16, ok bool) {
	level, ok = c.features[name]
	return level, ok
}

// SessionExpiry returns when the broker ends this connection's SASL
// session (KIP-368), or the zero time when it does not.
func (c *Conn) SessionExpiry() time.Time { return c.sessionExpiry }

// ThrottledUntil returns until when the broker asked the client not to
// send more requests (throttle applied after the response, Kafka 2.0+).
// It is the zero time when no throttle was ever reported.
func (c *Conn) ThrottledUntil() time.Time {
	n := c.throttle.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// InFlight returns how many requests await a response.
func (c *Conn) InFlight() int { return int(c.inflight.Load()) }

// Done returns a channel closed when the conn is dead.
func (c *Conn) Done() <-chan struct{} { return c.dead }

// Err returns why the conn died, or nil while it is alive.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// alive reports whether the conn has not died yet.
func (c *Conn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

// Close closes the connection, fails every in-flight request with an
// error wrapping ErrClosed, and returns once the reader goroutine exited.
// It must not be called from a done callback of the same conn.
func (c *Conn) Close() error {
	c.die(ErrClosed, 0, false)
	<-c.exited
	return nil
}

// Send sets req's version to MaxVersion(req.Key()) capped at
// req.MaxVersion(), writes it, and arranges for done to be called exactly
// once with the parsed response or an error.
//
// The write happens in the caller's goroutine, in one Write call, under a
// write lock, so requests go out in call order. done runs on the reader
// goroutine in request order and must not block. done runs before Send
// returns, on the caller's goroutine, in three cases: the conn is already
// dead, the broker does not support the request, or the request is a
// Produce with Acks 0 — Kafka sends no response to those, so done gets
// (nil, nil) once the write succeeded.
//
// A timeout > 0 bounds the write plus the wait for the response. Because
// responses come in order, a late response cannot be skipped: when a
// timeout passes the conn is closed; the late request fails with an error
// wrapping ErrRequestTimeout and every other in-flight request with one
// wrapping ErrClosed. A write error also closes the conn and fails all
// in-flight requests.
func (c *Conn) Send(req kmsg.Request, timeout time.Duration, done func(kmsg.Response, error)) {
	c.SendInto(req, nil, timeout, done)
}

// SendInto is Send that decodes the response into resp, which must be of
// req's response kind, so a caller that reuses its requests can reuse their
// responses too. The caller resets resp before the call (kmsg leaves fields
// absent from a response as they were) and does not touch it until done
// runs. A nil resp makes it Send.
func (c *Conn) SendInto(req kmsg.Request, resp kmsg.Response, timeout time.Duration, done func(kmsg.Response, error)) {
	key := req.Key()
	v, ok := c.versions.lookup(key)
	if !ok {
		done(nil, fmt.Errorf("%w: %s (key %d) on %s", ErrUnsupportedVersion, kmsg.NameForKey(key), key, c.addr))
		return
	}
	req.SetVersion(min(v, req.MaxVersion()))
	noResponse := false
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		noResponse = true
	}

	// Serialize outside the lock; only the correlation id is stamped in
	// under it.
	bp := getFrame()
	frame := appendFrame(c.set.formatter, (*bp)[:0], req, 0)
	*bp = frame
	if obs := c.set.observer; obs != nil {
		done = c.observe(obs, key, len(frame), noResponse, done)
	}

	c.wmu.Lock()
	start := time.Now()
	c.lastUse.Store(start.UnixNano())
	c.mu.Lock()
	if c.err != nil {
		err := c.othersErr
		c.mu.Unlock()
		c.wmu.Unlock()
		putFrame(bp)
		done(nil, err)
		return
	}
	c.corr++
	corr := c.corr
	if !noResponse {
		p := pending{corr: corr, req: req, resp: resp, done: done}
		if timeout > 0 {
			p.deadline, p.timeout = start.Add(timeout), timeout
			if c.rdeadline.IsZero() || p.deadline.Before(c.rdeadline) {
				c.rdeadline = p.deadline
				_ = c.nc.SetReadDeadline(p.deadline)
			}
		}
		c.queue.push(p)
		c.inflight.Add(1)
	}
	c.mu.Unlock()

	stampCorrelation(frame, corr)
	if timeout > 0 {
		_ = c.nc.SetWriteDeadline(start.Add(timeout))
		c.wdeadline = true
	} else if c.wdeadline {
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.wdeadline = false
	}
	_, err := c.nc.Write(frame)
	c.wmu.Unlock()
	putFrame(bp)

	if err != nil {
		if isTimeout(err) {
			c.die(c.timeoutErr(req, timeout), corr, true)
		} else {
			c.die(fmt.Errorf("%w: write to %s: %w", ErrClosed, c.addr, err), 0, false)
		}
		if noResponse {
			done(nil, c.errFor(corr))
		}
		return
	}
	if noResponse {
		done(nil, nil)
	}
}

// Request sends req and waits for its response. The ctx deadline, if any,
// is the request timeout (see Send). When ctx is canceled first, Request
// returns ctx.Err() and leaves the conn alone; the late response is
// discarded when it arrives.
func (c *Conn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	type result struct {
		resp kmsg.Response
		err  error
	}
	ch := make(chan result, 1)
	c.Send(req, timeout, func(resp kmsg.Response, err error) { ch <- result{resp, err} })
	select {
	case r := <-ch:
		if r.err != nil && errors.Is(r.err, ErrRequestTimeout) && ctx.Err() != nil {
			r.err = fmt.Errorf("%w (%w)", r.err, ctx.Err())
		}
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// die records why the conn died (the first cause wins) and closes the
// socket, which makes the reader goroutine fail the in-flight requests
// and exit. timedOut names the request that timed out, if any.
func (c *Conn) die(cause error, timedOut int32, isTimeout bool) {
	c.mu.Lock()
	ok := c.dieLocked(cause, timedOut, isTimeout)
	c.mu.Unlock()
	if ok {
		_ = c.nc.Close()
	}
}

// dieLocked records the death under mu; the caller closes nc when it
// returns true.
func (c *Conn) dieLocked(cause error, timedOut int32, isTimeout bool) bool {
	if c.err != nil {
		return false
	}
	c.err = cause
	switch {
	case isTimeout:
		// The others did not time out: say why the conn closed without
		// making them match ErrRequestTimeout.
		c.othersErr = fmt.Errorf("%w: %v", ErrClosed, cause)
		c.timedOut, c.timedOutOK = timedOut, true
	case errors.Is(cause, ErrClosed):
		c.othersErr = cause
	default:
		c.othersErr = fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	close(c.dead)
	return true
}

// errFor returns the error a request that was in flight when the conn
// died gets; valid once the conn is dead.
func (c *Conn) errFor(corr int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timedOutOK && corr == c.timedOut {
		return c.err
	}
	return c.othersErr
}

func (c *Conn) timeoutErr(req kmsg.Request, timeout time.Duration) error {
	return fmt.Errorf("%w: %s v%d to %s: no response within %v",
		ErrRequestTimeout, kmsg.NameForKey(req.Key()), req.GetVersion(), c.addr, timeout)
}

// retire closes the conn as soon as no request is in flight. The pool uses
// it for connections it replaced, so their last responses still arrive.
func (c *Conn) retire() {
	c.mu.Lock()
	var closeNow bool
	if c.queue.len() == 0 {
		closeNow = c.dieLocked(errRetired, 0, false)
	} else {
		c.retiring = true
	}
	c.mu.Unlock()
	if closeNow {
		_ = c.nc.Close()
	}
}

var errRetired = fmt.Errorf("%w: replaced by a newer connection", ErrClosed)

// errIdle is why the pool closed a connection that sat idle.
var errIdle = fmt.Errorf("%w: idle longer than connections.max.idle", ErrClosed)

// idleSince reports whether the conn has had no request in flight and none
// sent after cutoff (unix nanos).
func (c *Conn) idleSince(cutoff int64) bool {
	return c.inflight.Load() == 0 && c.lastUse.Load() <= cutoff
}

// closeIfIdle closes the conn when it is still idle since cutoff,
// checked under mu so that a Send either lands first (and the conn stays)
// or finds the conn dead. It reports whether it closed the conn.
func (c *Conn) closeIfIdle(cutoff int64) bool {
	c.mu.Lock()
	closeNow := c.queue.len() == 0 && c.lastUse.Load() <= cutoff && c.dieLocked(errIdle, 0, false)
	c.mu.Unlock()
	if closeNow {
		_ = c.nc.Close()
	}
	return closeNow
}

// readLoop is the reader goroutine: it delivers responses until the conn
// dies, then fails whatever is still in flight, tells the pool, and pokes
// OnChange.
func (c *Conn) readLoop() {
	defer close(c.exited)
	for {
		frame, err := c.fr.next(c.br, c.set.maxResponse)
		if err != nil {
			c.readFailed(err)
			break
		}
		if !c.deliver(frame) {
			break
		}
	}

	c.mu.Lock()
	failed := c.queue.drain(nil)
	c.inflight.Store(0)
	c.mu.Unlock()
	for i := range failed {
		failed[i].done(nil, c.errFor(failed[i].corr))
	}
	c.set.log.Debug("wire: connection closed", "addr", c.addr, "err", c.Err())
	if c.onDead != nil {
		c.onDead(c)
	}
	c.set.onChange()
}

// deliver hands one response frame to the oldest pending request. It
// returns false when the conn died.
func (c *Conn) deliver(frame []byte) bool {
	corr := frameCorrelation(frame)
	c.mu.Lock()
	head, ok := c.queue.peek()
	if !ok || head.corr != corr {
		var cause error
		if ok {
			cause = fmt.Errorf("wire: %s: %w: correlation id %d, expected %d", c.addr, ErrMalformedResponse, corr, head.corr)
		} else {
			cause = fmt.Errorf("wire: %s: %w: correlation id %d with no request in flight", c.addr, ErrMalformedResponse, corr)
		}
		closeNow := c.dieLocked(cause, 0, false)
		c.mu.Unlock()
		if closeNow {
			_ = c.nc.Close()
		}
		return false
	}
	p := c.queue.pop()
	c.inflight.Add(-1)
	if !p.deadline.IsZero() && p.deadline.Equal(c.rdeadline) {
		next, _, _ := c.queue.earliestDeadline()
		c.rdeadline = next
		_ = c.nc.SetReadDeadline(next)
	}
	c.mu.Unlock()

	resp, err := parseResponse(p.req, p.resp, frame)
	if err == nil {
		c.noteThrottle(resp)
	}
	p.done(resp, err)

	c.mu.Lock()
	closeNow := c.retiring && c.queue.len() == 0 && c.dieLocked(errRetired, 0, false)
	c.mu.Unlock()
	if closeNow {
		_ = c.nc.Close()
		return false
	}
	return true
}

// readFailed turns a read error into the conn's death: a read deadline
// means the request with the earliest deadline timed out.
func (c *Conn) readFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return // closed on purpose; the read error is the consequence
	}
	var cause error
	var closeNow bool
	if _, corr, ok := c.queue.earliestDeadline(); ok && isTimeout(err) {
		p := c.queue.find(corr)
		cause = c.timeoutErr(p.req, p.timeout)
		closeNow = c.dieLocked(cause, corr, true)
	} else {
		cause = fmt.Errorf("%w: read from %s: %w", ErrClosed, c.addr, err)
		if errors.Is(err, ErrMalformedResponse) {
			cause = fmt.Errorf("wire: %s: %w", c.addr, err)
		}
		closeNow = c.dieLocked(cause, 0, false)
	}
	if closeNow {
		_ = c.nc.Close()
	}
}

// isTimeout reports whether err is a deadline expiry on the socket.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// noteThrottle records a throttle the broker applies after this response:
// it expects no further requests on the connection until it ends.
func (c *Conn) noteThrottle(resp kmsg.Response) {
	t, ok := resp.(kmsg.ThrottleResponse)
	if !ok {
		return
	}
	ms, after := t.Throttle()
	if ms <= 0 || !after {
		return
	}
	c.throttle.Store(time.Now().Add(time.Duration(ms) * time.Millisecond).UnixNano())
}
