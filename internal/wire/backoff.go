package wire

import (
	"time"

	"github.com/kprod/kprod/internal/backoff"
)

// reconnectBackoff is how long to wait before the next dial after the
// given number of consecutive failures (0 for the first): base doubled per
// failure up to max, ±20% so that clients losing the same broker do not
// come back in lockstep.
func reconnectBackoff(base, max time.Duration, failures int) time.Duration {
	return backoff.Exp(base, max, failures)
}
