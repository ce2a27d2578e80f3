package producer

import (
	"fmt"
	"strings"
	"time"
)

// SyncPolicy says when the disk spool fsyncs what it wrote, which decides
// when a spooled record is durable (Future.Durable): it then survives a
// crash of the machine. A crash of the process alone loses nothing the
// spool wrote, whatever the policy.
type SyncPolicy int

// The spool's sync policies (property kprod.spool.sync).
const (
	// SyncAlways fsyncs after each group of batches the sender spools,
	// before it reports them durable.
	SyncAlways SyncPolicy = iota
	// SyncInterval fsyncs every SpoolSyncEvery (default 100 ms).
	SyncInterval
	// SyncNever leaves writing back to the operating system; segments are
	// still synced when they fill and at Close.
	SyncNever
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// parseSyncPolicy reads a kprod.spool.sync value.
func parseSyncPolicy(v string) (SyncPolicy, error) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		if strings.EqualFold(v, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("must be always, interval or never")
}

// Defaults of the spool's settings.
const (
	DefaultSpoolMaxBytes  = 1 << 30
	DefaultSpoolSyncEvery = 100 * time.Millisecond
	DefaultSpoolOutage    = 5 * time.Second
)

// spoolConfig is the disk spool's part of the config; dir "" means no spool.
type spoolConfig struct {
	dir       string
	maxBytes  int64
	sync      SyncPolicy
	syncEvery time.Duration
	outage    time.Duration
}

// SpoolOpt configures the disk spool; see WithSpool.
type SpoolOpt func(*spoolConfig)

// WithSpool keeps closed batches in append-only files in dir while Kafka
// cannot take them, so Send goes on accepting records through an outage, and
// a producer restarted on dir after a crash sends what the last one spooled
// (see README, "The disk spool"). Batches go to disk when buffer.memory is
// full, or when a partition has had batches waiting and none acknowledged for
// SpoolOutageAfter; they are read back and sent, before anything newer of
// their partition, once the broker takes them. The spool needs idempotence
// and no transactional id. One producer at a time may use dir.
func WithSpool(dir string, opts ...SpoolOpt) Opt {
	return func(c *config) {
		c.spool = spoolConfig{dir: dir, maxBytes: DefaultSpoolMaxBytes, syncEvery: DefaultSpoolSyncEvery, outage: DefaultSpoolOutage}
		for _, o := range opts {
			if o != nil {
				o(&c.spool)
			}
		}
		if dir == "" {
			c.deferred = append(c.deferred, configError("kprod.spool.dir (WithSpool)", "empty directory"))
		}
	}
}

// SpoolMaxBytes bounds the spool's files (kprod.spool.max.bytes, default 1
// GiB). A full spool takes no more batches: Send then waits for memory and
// fails after max.block with ErrBufferFull, as without a spool.
func SpoolMaxBytes(n int64) SpoolOpt { return func(s *spoolConfig) { s.maxBytes = n } }

// SpoolSync sets when the spool fsyncs (kprod.spool.sync, default always).
func SpoolSync(p SyncPolicy) SpoolOpt { return func(s *spoolConfig) { s.sync = p } }

// SpoolSyncEvery is SyncInterval's period (kprod.spool.sync.interval.ms,
// default 100 ms).
func SpoolSyncEvery(d time.Duration) SpoolOpt { return func(s *spoolConfig) { s.syncEvery = d } }

// SpoolOutageAfter is how long a partition may have batches waiting with
// none acknowledged before its batches go to disk (kprod.spool.outage.ms,
// default 5 s).
func SpoolOutageAfter(d time.Duration) SpoolOpt { return func(s *spoolConfig) { s.outage = d } }

// validate checks the spool's settings against the rest; called by
// config.validate once idempotence is settled.
func (s *spoolConfig) validate(c *config) error {
	if s.dir == "" {
		if *s != (spoolConfig{}) {
			return configError("kprod.spool.dir (WithSpool)", "kprod.spool settings given without a spool directory")
		}
		return nil
	}
	switch {
	case s.maxBytes <= 0:
		return configError("kprod.spool.max.bytes (SpoolMaxBytes)", "must be > 0")
	case s.sync < SyncAlways || s.sync > SyncNever:
		return configError("kprod.spool.sync (SpoolSync)", "unknown policy %d", int(s.sync))
	case s.syncEvery <= 0:
		return configError("kprod.spool.sync.interval.ms (SpoolSyncEvery)", "must be > 0")
	case s.outage < 0:
		return configError("kprod.spool.outage.ms (SpoolOutageAfter)", "must be >= 0")
	case c.txnID != "":
		return configError("kprod.spool.dir (WithSpool)", "a transactional producer cannot spool (its records commit or abort with the transaction)")
	case !c.idempotence:
		return configError("kprod.spool.dir (WithSpool)", "the spool needs idempotence (acks=all, retries > 0, max.in.flight <= 5): replayed batches rely on the broker's de-duplication")
	}
	return nil
}
