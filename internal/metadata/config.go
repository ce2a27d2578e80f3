package metadata

import (
	"log/slog"
	"time"
)

// Defaults applied to zero Config fields.
const (
	DefaultMaxAge         = 5 * time.Minute        // Java metadata.max.age.ms
	DefaultMinInterval    = 100 * time.Millisecond // Java retry.backoff.ms
	DefaultRequestTimeout = 30 * time.Second       // Java request.timeout.ms
	DefaultMaxIdle        = 5 * time.Minute        // Java metadata.max.idle.ms
)

// Config tunes a Client. The zero value uses the defaults above and does
// not ask brokers to create topics.
type Config struct {
	// MaxAge is how often every topic in use is refreshed even when
	// nothing asks for it (Java metadata.max.age.ms, default 5m).
	MaxAge time.Duration

	// MinInterval is the least time between the starts of two refreshes
	// (Java retry.backoff.ms, default 100ms); requests in between are
	// coalesced into one.
	MinInterval time.Duration

	// MaxIdle drops a topic from the refreshes once nobody marked it used
	// (Topic.MarkUsed, Wait) for this long; its next Wait fetches it again
	// (Java metadata.max.idle.ms, default 5m). Negative keeps every topic.
	// Expiry is checked at each refresh, so a topic goes at the first
	// refresh after MaxIdle passed.
	MaxIdle time.Duration

	// AllowAutoCreate lets brokers that allow it create a topic the
	// first time it is asked for (Java allow.auto.create.topics, whose
	// default is true; the producer's options set it).
	AllowAutoCreate bool

	// RequestTimeout bounds one refresh: finding a broker and its
	// Metadata request (Java request.timeout.ms, default 30s).
	RequestTimeout time.Duration

	// Logger receives refresh events; nil is silent.
	Logger *slog.Logger

	// OnUpdate is called on the refresh goroutine after every successful
	// refresh. It must not block.
	OnUpdate func()
}

func (c Config) withDefaults() Config {
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MinInterval <= 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = DefaultMaxIdle
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnUpdate == nil {
		c.OnUpdate = func() {}
	}
	return c
}
