package wire

import (
	"math/rand/v2"
	"time"
)

// reconnectBackoff is how long to wait before the next dial after the
// given number of consecutive failures (0 for the first): base doubled per
// failure, capped at max, then spread by ±20% so that many clients losing
// the same broker do not come back in lockstep.
func reconnectBackoff(base, max time.Duration, failures int) time.Duration {
	return jitter(capped(base, max, failures), rand.Float64())
}

func capped(base, max time.Duration, failures int) time.Duration {
	d := base
	for i := 0; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// jitter scales d by a factor in [0.8, 1.2) chosen by r in [0, 1).
func jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}
