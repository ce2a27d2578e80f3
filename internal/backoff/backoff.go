// Package backoff holds the producer's retry waits: the exponential,
// jittered backoff of reconnects and request retries, and a sleep that ends
// early with its context. One copy serves the wire pool, the sender, the
// transaction and idempotence clients and the metadata refresher.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exp is the wait before retry n (0 for the first): Capped spread by ±20%
// (Jitter with a random r), so that many clients failing together do not
// retry in lockstep.
func Exp(base, max time.Duration, n int) time.Duration {
	return Jitter(Capped(base, max, n), rand.Float64())
}

// Capped is base doubled n times, but never above max: the unjittered
// middle of Exp's range.
func Capped(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Jitter scales d by a factor in [0.8, 1.2) chosen by r in [0, 1); Exp
// passes a random r, tests a fixed one.
func Jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// Sleep waits d, or until ctx ends, in which case it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
