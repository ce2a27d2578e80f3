package producer

import (
	"sync"
	"sync/atomic"
	"time"
)

// The producer reads the clock once per record: a monotonic reading gives
// the record's latency start and its max.block deadline, and its create
// time is that reading plus an offset to the wall clock, which the sender
// refreshes on every wake-up so wall clock steps are followed.

// clockBase anchors the monotonic clock.
var clockBase = time.Now()

// wallOffset is the wall clock (unix ms) at clockBase as last measured.
var wallOffset atomic.Int64

func init() { syncWallClock() }

// nanotime is monotonic nanoseconds since clockBase (one clock read).
func nanotime() int64 { return int64(time.Since(clockBase)) }

// monoTime turns a nanotime reading back into a time.Time (for deadlines).
func monoTime(ns int64) time.Time { return clockBase.Add(time.Duration(ns)) }

// wallMillis is the wall clock in unix ms at the nanotime reading ns.
func wallMillis(ns int64) int64 { return wallOffset.Load() + ns/int64(time.Millisecond) }

// syncWallClock re-measures the offset between the wall and monotonic clocks.
func syncWallClock() {
	now := time.Now()
	wallOffset.Store(now.UnixMilli() - int64(now.Sub(clockBase)/time.Millisecond))
}

// busyClock spares Send its clock read while the producer is busy. A clock
// read costs 40-55 ns on the machines measured, a tenth of a record's whole
// cost at a million records a second. Above busyRate records/s (sent, as
// the sender counts them) a ticker goroutine stores the time every
// busyTick and Send takes that reading, one atomic load; below half the
// rate the ticker ends and Send reads the clock again. A busy producer's
// record timestamps and send→ack latencies are thus off by up to a tick
// (plus the ticker's scheduling delay); an idle or moderate one's are
// exact.
type busyClock struct {
	now    atomic.Int64 // nanotime at the last tick; read while on
	on     atomic.Bool  // the ticker runs and keeps now
	closed atomic.Bool  // the producer is closing: no ticker starts again
	count  func() int64 // records sent so far
	rate   float64      // busyRate unless a test lowered it
	wg     sync.WaitGroup

	// sender goroutine only: the rate while the ticker is off
	lastCount, lastAt int64
}

const (
	busyRate   = 200_000               // records/s from which Send uses the ticker's reading
	busyTick   = time.Millisecond      // how stale a busy Send's reading may be
	busyWindow = 20 * time.Millisecond // the span the rate is measured over
)

// read is the time for a record: the ticker's last reading while busy.
func (c *busyClock) read() int64 {
	if c.on.Load() {
		return c.now.Load()
	}
	return nanotime()
}

// observe starts the ticker when the rate since the last look reached
// busyRate. Sender goroutine, on each of its steps.
func (c *busyClock) observe(now int64) {
	if c.on.Load() || c.closed.Load() || now-c.lastAt < int64(busyWindow) {
		return
	}
	n := c.count()
	// A window much longer than busyWindow (the sender slept, or the
	// ticker ran meanwhile) says nothing of the rate now: start a new one.
	busy := now-c.lastAt <= 2*int64(busyWindow) && reached(n-c.lastCount, now-c.lastAt, c.rate)
	c.lastCount, c.lastAt = n, now
	if busy {
		c.now.Store(nanotime())
		c.on.Store(true)
		c.wg.Go(c.tick)
	}
}

// tick keeps now until the rate falls under half of busyRate or the
// producer closes; on is cleared before it returns.
func (c *busyClock) tick() {
	t := time.NewTicker(busyTick)
	defer t.Stop()
	lastCount, lastAt := c.count(), nanotime()
	for range t.C {
		ns := nanotime()
		c.now.Store(ns)
		if c.closed.Load() {
			c.on.Store(false)
			return
		}
		if ns-lastAt < int64(busyWindow) {
			continue
		}
		n := c.count()
		if !reached(n-lastCount, ns-lastAt, c.rate/2) {
			c.on.Store(false)
			return
		}
		lastCount, lastAt = n, ns
	}
}

// reached reports whether n records in d nanoseconds make rate records/s.
func reached(n, d int64, rate float64) bool {
	return float64(n) >= rate*float64(d)/1e9
}

// stop ends the ticker for good and waits for it; the sender calls it as
// it exits.
func (c *busyClock) stop() {
	c.closed.Store(true)
	c.wg.Wait()
}
