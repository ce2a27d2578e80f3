package txn

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults applied to zero Config fields.
const (
	// DefaultTimeout is how long the coordinator lets a transaction stay
	// open before aborting it (Java transaction.timeout.ms, 60000).
	DefaultTimeout = 60 * time.Second
	// DefaultRequestTimeout bounds one request attempt (Java
	// request.timeout.ms, 30000).
	DefaultRequestTimeout = 30 * time.Second
	// DefaultRetryBackoff is the pause between retries of retriable
	// coordinator errors (Java retry.backoff.ms, 100).
	DefaultRetryBackoff = 100 * time.Millisecond
	// ConcurrentTransactionsBackoff caps the pause after
	// CONCURRENT_TRANSACTIONS, which usually clears within milliseconds
	// once the previous transaction's markers are written.
	ConcurrentTransactionsBackoff = 20 * time.Millisecond
)

// Config says how a Client talks to the coordinators. Zero durations take
// the defaults above.
type Config struct {
	// TransactionalID identifies the producer across restarts (Java
	// transactional.id); required.
	TransactionalID string
	// Timeout is the transaction timeout sent with InitProducerId (Java
	// transaction.timeout.ms); whole milliseconds, at most MaxInt32.
	Timeout time.Duration
	// RequestTimeout bounds each single request attempt, including
	// waiting for a connection.
	RequestTimeout time.Duration
	// RetryBackoff is the pause between retries of retriable coordinator
	// errors; after CONCURRENT_TRANSACTIONS the pause is
	// min(ConcurrentTransactionsBackoff, RetryBackoff).
	RetryBackoff time.Duration
	// Logger receives coordinator changes and retries; nil is silent.
	Logger *slog.Logger
}

// Validate reports the first unusable field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.TransactionalID == "":
		return fmt.Errorf("%w: empty TransactionalID", ErrInvalidConfig)
	case c.Timeout < 0:
		return fmt.Errorf("%w: negative Timeout %v", ErrInvalidConfig, c.Timeout)
	case c.Timeout > 0 && c.Timeout < time.Millisecond:
		return fmt.Errorf("%w: Timeout %v below one millisecond", ErrInvalidConfig, c.Timeout)
	case c.Timeout/time.Millisecond > math.MaxInt32:
		return fmt.Errorf("%w: Timeout %v above %d ms", ErrInvalidConfig, c.Timeout, math.MaxInt32)
	case c.RequestTimeout < 0:
		return fmt.Errorf("%w: negative RequestTimeout %v", ErrInvalidConfig, c.RequestTimeout)
	case c.RetryBackoff < 0:
		return fmt.Errorf("%w: negative RetryBackoff %v", ErrInvalidConfig, c.RetryBackoff)
	}
	return nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// concurrentBackoff is the pause after CONCURRENT_TRANSACTIONS.
func (c Config) concurrentBackoff() time.Duration {
	return min(ConcurrentTransactionsBackoff, c.RetryBackoff)
}
