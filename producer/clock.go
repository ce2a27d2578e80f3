package producer

import (
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
