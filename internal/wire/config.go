package wire

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Defaults applied to zero Config fields.
const (
	DefaultSoftwareName     = "kprod"                 // ApiVersions v3+ client software name
	DefaultSoftwareVersion  = "dev"                   // ApiVersions v3+ client software version
	DefaultDialTimeout      = 10 * time.Second        // TCP + TLS + ApiVersions + SASL
	DefaultReconnectBackoff = 50 * time.Millisecond   // Java reconnect.backoff.ms
	DefaultReconnectMax     = 1000 * time.Millisecond // Java reconnect.backoff.max.ms
	DefaultMaxResponseBytes = 100 << 20               // largest response frame accepted
)

// Config says how to reach and talk to brokers. The zero value is usable:
// plaintext, no SASL, the defaults above. A Config must not be changed
// after it was handed to Dial or NewPool.
type Config struct {
	// ClientID is sent in every request header (Java client.id).
	ClientID string

	// SoftwareName and SoftwareVersion are announced in ApiVersions v3+
	// (KIP-511); they must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?.
	// Defaults "kprod" and "dev".
	SoftwareName, SoftwareVersion string

	// TLS enables TLS when non-nil. An empty ServerName is filled from the
	// host part of the broker address.
	TLS *tls.Config

	// SASL authenticates every connection when non-nil (for example a
	// mechanism from franz-go's sasl/plain, sasl/scram, sasl/oauth or
	// sasl/aws packages). A session lifetime the broker sets (KIP-368;
	// with OAUTHBEARER at most the token's remaining life) makes the pool
	// replace the connection before it ends.
	SASL sasl.Mechanism

	// DialTimeout bounds a whole dial: TCP, TLS, ApiVersions and SASL.
	// Default 10s.
	DialTimeout time.Duration

	// Dial opens the TCP connection; default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// ReconnectBackoff and ReconnectBackoffMax bound the wait before
	// redialing a broker after a failed dial or a dropped connection. The
	// wait doubles per consecutive failure, with ±20% jitter (Java
	// reconnect.backoff.ms 50 and reconnect.backoff.max.ms 1000).
	ReconnectBackoff, ReconnectBackoffMax time.Duration

	// MaxVersions optionally caps the request versions used; a key it
	// lacks is treated as unsupported. Tests use it to pin old protocol.
	MaxVersions *kversion.Versions

	// MaxResponseBytes is the largest response frame accepted; a larger
	// size prefix means a corrupt stream or a peer that is not Kafka.
	// Default 100 MiB.
	MaxResponseBytes int32

	// IdleTimeout closes a pool connection that has had no request in
	// flight and none sent for this long; the next request that needs it
	// dials again (Java connections.max.idle.ms). Zero or negative keeps
	// connections open until they fail or the pool closes.
	IdleTimeout time.Duration

	// Logger receives connection events; nil is silent.
	Logger *slog.Logger

	// OnChange is called, from any goroutine, whenever a background dial
	// finishes, a connection dies or a reconnect backoff ends, so the
	// producer's sender can re-check readiness. It must not block.
	OnChange func()

	// Observer, when set, sees every request written and every answer
	// (hooks); nil costs nothing per request.
	Observer Observer
}

// settings is a validated Config with defaults applied and lookup tables
// precomputed. It is immutable and shared by every Conn of a Pool.
type settings struct {
	clientID        string
	formatter       *kmsg.RequestFormatter
	softwareName    string
	softwareVersion string
	tls             *tls.Config
	sasl            sasl.Mechanism
	dialTimeout     time.Duration
	dial            func(ctx context.Context, network, addr string) (net.Conn, error)
	backoffBase     time.Duration
	backoffMax      time.Duration
	caps            *[kmsg.MaxKey + 1]int16 // nil = no cap; -1 = key excluded
	maxResponse     int32
	idle            time.Duration // <= 0: never close idle connections
	log             *slog.Logger
	onChange        func()
	observer        Observer
}

func newSettings(cfg *Config) (*settings, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	s := &settings{
		clientID:        cfg.ClientID,
		formatter:       kmsg.NewRequestFormatter(kmsg.FormatterClientID(cfg.ClientID)),
		softwareName:    orDefault(cfg.SoftwareName, DefaultSoftwareName),
		softwareVersion: orDefault(cfg.SoftwareVersion, DefaultSoftwareVersion),
		tls:             cfg.TLS,
		sasl:            cfg.SASL,
		dialTimeout:     orDefault(cfg.DialTimeout, DefaultDialTimeout),
		dial:            cfg.Dial,
		backoffBase:     orDefault(cfg.ReconnectBackoff, DefaultReconnectBackoff),
		backoffMax:      orDefault(cfg.ReconnectBackoffMax, DefaultReconnectMax),
		maxResponse:     orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		idle:            cfg.IdleTimeout,
		log:             cfg.Logger,
		onChange:        cfg.OnChange,
		observer:        cfg.Observer,
	}
	switch {
	case cfg.DialTimeout < 0:
		return nil, fmt.Errorf("%w: negative DialTimeout %v", ErrInvalidConfig, cfg.DialTimeout)
	case cfg.ReconnectBackoff < 0 || cfg.ReconnectBackoffMax < 0:
		return nil, fmt.Errorf("%w: negative reconnect backoff", ErrInvalidConfig)
	case s.backoffMax < s.backoffBase:
		return nil, fmt.Errorf("%w: ReconnectBackoffMax %v below ReconnectBackoff %v", ErrInvalidConfig, s.backoffMax, s.backoffBase)
	case cfg.MaxResponseBytes < 0:
		return nil, fmt.Errorf("%w: negative MaxResponseBytes", ErrInvalidConfig)
	case !validSoftwareField(s.softwareName):
		return nil, fmt.Errorf("%w: SoftwareName %q", ErrInvalidConfig, s.softwareName)
	case !validSoftwareField(s.softwareVersion):
		return nil, fmt.Errorf("%w: SoftwareVersion %q", ErrInvalidConfig, s.softwareVersion)
	}
	if s.dial == nil {
		var d net.Dialer
		s.dial = d.DialContext
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.onChange == nil {
		s.onChange = func() {}
	}
	if cfg.MaxVersions != nil {
		var caps [kmsg.MaxKey + 1]int16
		for k := range caps {
			v, ok := cfg.MaxVersions.LookupMaxKeyVersion(int16(k))
			if !ok {
				v = -1
			}
			caps[k] = v
		}
		s.caps = &caps
	}
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// validSoftwareField reports whether v is what brokers accept as a client
// software name or version: alphanumerics, with '-' and '.' allowed inside.
func validSoftwareField(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum {
			continue
		}
		if (c == '-' || c == '.') && i > 0 && i < len(v)-1 {
			continue
		}
		return false
	}
	return true
}
