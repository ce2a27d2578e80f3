package producer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/partitioner"
)

// Acks is how many replicas must have a record before the broker answers.
type Acks int16

// The three acknowledgement levels of the acks setting.
const (
	AcksNone   Acks = 0  // fire and forget: no answer, offsets unknown (-1)
	AcksLeader Acks = 1  // the leader wrote it
	AcksAll    Acks = -1 // every in-sync replica wrote it (default)
)

func (a Acks) String() string {
	switch a {
	case AcksNone:
		return "0"
	case AcksLeader:
		return "1"
	case AcksAll:
		return "all"
	}
	return fmt.Sprintf("Acks(%d)", int16(a))
}

// Opt configures a Producer; see New.
type Opt func(*config)

// config holds every setting; the defaults are the Java producer's.
type config struct {
	brokers  []string
	clientID string

	acks            Acks
	batchSize       int
	linger          time.Duration
	bufferMemory    int64
	maxBlock        time.Duration
	maxRequestSize  int
	codec           batch.Codec
	levels          map[batch.Codec]int
	requestTimeout  time.Duration
	deliveryTimeout time.Duration
	retries         int
	retryBackoff    time.Duration
	retryBackoffMax time.Duration
	maxInFlight     int

	idempotence    bool
	idempotenceSet bool // the user chose explicitly (so a conflict is an error)
	txnID          string
	txnTimeout     time.Duration

	ignoreKeys          bool
	adaptive            bool
	availabilityTimeout time.Duration
	partitioner         partitioner.Partitioner

	metadataMaxAge      time.Duration
	metadataMaxIdle     time.Duration // < 0: keep every topic
	connMaxIdle         time.Duration // <= 0: keep idle connections open
	reconnectBackoff    time.Duration
	reconnectBackoffMax time.Duration
	dialTimeout         time.Duration
	sendBuffer          int // SO_SNDBUF in bytes; <= 0: the operating system's
	receiveBuffer       int // SO_RCVBUF in bytes; <= 0: the operating system's

	tls    *tls.Config
	sasl   sasl.Mechanism
	login  LoginRefresh // OAUTHBEARER token refresh (auth.go); zero fields mean Java's defaults
	dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	logger       *slog.Logger
	interceptors []Interceptor
	hooks        hooks
	spool        spoolConfig // dir "": no spool

	// deferred holds errors found while applying options (WithProperties),
	// reported by New, all of them.
	deferred []error
	// ignored lists the Java properties given that have no effect here;
	// New logs one line for each.
	ignored []ignoredUse
	// busyRate is the records/s from which Send takes the busy clock's
	// reading (clock.go); no option sets it, tests lower it.
	busyRate float64
}

func defaultConfig() config {
	return config{
		brokers:             []string{"localhost:9092"},
		busyRate:            busyRate,
		clientID:            "kprod",
		acks:                AcksAll,
		batchSize:           16384,
		linger:              5 * time.Millisecond,
		bufferMemory:        32 << 20,
		maxBlock:            60 * time.Second,
		maxRequestSize:      1 << 20,
		codec:               batch.None,
		requestTimeout:      30 * time.Second,
		deliveryTimeout:     120 * time.Second,
		retries:             math.MaxInt32,
		retryBackoff:        100 * time.Millisecond,
		retryBackoffMax:     time.Second,
		maxInFlight:         5,
		idempotence:         true,
		txnTimeout:          60 * time.Second,
		adaptive:            true,
		metadataMaxAge:      5 * time.Minute,
		metadataMaxIdle:     5 * time.Minute,
		connMaxIdle:         9 * time.Minute,
		reconnectBackoff:    50 * time.Millisecond,
		reconnectBackoffMax: time.Second,
		dialTimeout:         10 * time.Second,
	}
}

// WithBrokers sets the seed brokers, "host:port" each (Java bootstrap.servers;
// default localhost:9092).
func WithBrokers(brokers ...string) Opt {
	return func(c *config) { c.brokers = append([]string(nil), brokers...) }
}

// WithClientID sets the client id sent with every request (Java client.id; default "kprod").
func WithClientID(id string) Opt { return func(c *config) { c.clientID = id } }

// WithAcks sets how many replicas must acknowledge a write (Java acks; default AcksAll).
func WithAcks(a Acks) Opt { return func(c *config) { c.acks = a } }

// WithBatchSize sets the target size in bytes of one partition's batch
// (Java batch.size; default 16384). A larger record gets a batch of its own.
func WithBatchSize(n int) Opt { return func(c *config) { c.batchSize = n } }

// WithLinger sets how long a batch that is not full waits for more records
// (Java linger.ms; default 5ms).
func WithLinger(d time.Duration) Opt { return func(c *config) { c.linger = d } }

// WithBufferMemory bounds the bytes of records waiting to be sent, retries
// included (Java buffer.memory; default 32 MiB).
func WithBufferMemory(n int64) Opt { return func(c *config) { c.bufferMemory = n } }

// WithMaxBlock bounds how long Send waits for metadata and buffer memory
// together (Java max.block.ms; default 60s).
func WithMaxBlock(d time.Duration) Opt { return func(c *config) { c.maxBlock = d } }

// WithMaxRequestSize bounds one produce request and so one record
// (Java max.request.size; default 1 MiB).
func WithMaxRequestSize(n int) Opt { return func(c *config) { c.maxRequestSize = n } }

// WithCompression sets the codec batches are compressed with
// (Java compression.type; default CompressionNone).
func WithCompression(codec Compression) Opt { return func(c *config) { c.codec = codec.codec() } }

// WithCompressionLevel sets the level of one codec (Java
// compression.<codec>.level; default: the codec's own default).
func WithCompressionLevel(codec Compression, level int) Opt {
	return func(c *config) {
		if c.levels == nil {
			c.levels = make(map[batch.Codec]int)
		}
		c.levels[codec.codec()] = level
	}
}

// WithRequestTimeout bounds the wait for one produce response
// (Java request.timeout.ms; default 30s).
func WithRequestTimeout(d time.Duration) Opt { return func(c *config) { c.requestTimeout = d } }

// WithDeliveryTimeout bounds the time from Send to the record's answer,
// retries included (Java delivery.timeout.ms; default 120s; must be at least
// linger + request timeout).
func WithDeliveryTimeout(d time.Duration) Opt { return func(c *config) { c.deliveryTimeout = d } }

// WithRetries bounds how often a batch is resent after a retriable error
// (Java retries; default MaxInt32, so delivery.timeout is the real bound).
func WithRetries(n int) Opt { return func(c *config) { c.retries = n } }

// WithRetryBackoff sets the first and the largest wait before a retry; the
// wait doubles per attempt with ±20% jitter (Java retry.backoff.ms 100 and
// retry.backoff.max.ms 1000).
func WithRetryBackoff(first, max time.Duration) Opt {
	return func(c *config) { c.retryBackoff, c.retryBackoffMax = first, max }
}

// WithMaxInFlight bounds unanswered produce requests per broker connection
// (Java max.in.flight.requests.per.connection; default 5; at most 5 with idempotence).
func WithMaxInFlight(n int) Opt { return func(c *config) { c.maxInFlight = n } }

// WithIdempotence turns the idempotent producer on or off (Java
// enable.idempotence; default on). Turning it on explicitly with acks other
// than all, retries 0 or more than 5 in flight is a configuration error.
func WithIdempotence(on bool) Opt {
	return func(c *config) { c.idempotence, c.idempotenceSet = on, true }
}

// WithTransactionalID names the producer for transactions (Java transactional.id).
func WithTransactionalID(id string) Opt { return func(c *config) { c.txnID = id } }

// WithTransactionTimeout sets how long the coordinator lets a transaction stay
// open (Java transaction.timeout.ms; default 60s).
func WithTransactionTimeout(d time.Duration) Opt { return func(c *config) { c.txnTimeout = d } }

// WithPartitionerIgnoreKeys makes keyed records use the sticky partitioner
// too (Java partitioner.ignore.keys; default false).
func WithPartitionerIgnoreKeys(ignore bool) Opt { return func(c *config) { c.ignoreKeys = ignore } }

// WithAdaptivePartitioning makes the sticky partitioner favour partitions whose
// brokers have shorter queues (Java partitioner.adaptive.partitioning.enable; default true).
func WithAdaptivePartitioning(on bool) Opt { return func(c *config) { c.adaptive = on } }

// WithPartitionerAvailabilityTimeout makes the sticky partitioner skip
// partitions whose leader has not taken data for this long (Java
// partitioner.availability.timeout.ms; default 0 = off).
func WithPartitionerAvailabilityTimeout(d time.Duration) Opt {
	return func(c *config) { c.availabilityTimeout = d }
}

// WithPartitioner replaces the built-in choice (murmur2 for keys, sticky
// otherwise) for records without a pinned partition (Java partitioner.class).
func WithPartitioner(p partitioner.Partitioner) Opt { return func(c *config) { c.partitioner = p } }

// WithMetadataMaxAge sets how often metadata is refreshed even without errors
// (Java metadata.max.age.ms; default 5m).
func WithMetadataMaxAge(d time.Duration) Opt { return func(c *config) { c.metadataMaxAge = d } }

// WithMetadataMaxIdle sets how long a topic may go without a Send before it
// leaves the metadata refreshes; the next Send to it waits for its metadata
// as for a new topic (Java metadata.max.idle.ms; default 5m). Negative keeps
// every topic for the producer's life.
func WithMetadataMaxIdle(d time.Duration) Opt { return func(c *config) { c.metadataMaxIdle = d } }

// WithConnectionsMaxIdle sets how long a broker connection may go with
// nothing in flight and nothing sent before the producer closes it; the next
// request that needs it reconnects (Java connections.max.idle.ms; default
// 9m). Zero or negative keeps connections open until Close.
func WithConnectionsMaxIdle(d time.Duration) Opt { return func(c *config) { c.connMaxIdle = d } }

// WithReconnectBackoff sets the first and largest wait before redialing a
// broker (Java reconnect.backoff.ms 50 and reconnect.backoff.max.ms 1000).
func WithReconnectBackoff(first, max time.Duration) Opt {
	return func(c *config) { c.reconnectBackoff, c.reconnectBackoffMax = first, max }
}

// WithDialTimeout bounds connecting to a broker, TLS and SASL included (Java
// socket.connection.setup.timeout.max.ms; default 10s).
func WithDialTimeout(d time.Duration) Opt { return func(c *config) { c.dialTimeout = d } }

// WithSocketBuffers sets the kernel send and receive buffer sizes of broker
// connections in bytes (Java send.buffer.bytes and receive.buffer.bytes).
// Zero or -1 keeps the operating system's default, which is kprod's
// default: Java asks for 128 KiB and 32 KiB, but a fixed size turns off
// Linux's buffer autotuning. The sizes are set on the *net.TCPConn a
// dialer returns (WithDialer's too); other connections are left alone.
func WithSocketBuffers(send, receive int) Opt {
	return func(c *config) { c.sendBuffer, c.receiveBuffer = send, receive }
}

// WithTLS connects to brokers over TLS with this configuration (Java
// security.protocol SSL or SASL_SSL). Server certificates are verified unless
// the config says otherwise.
func WithTLS(cfg *tls.Config) Opt { return func(c *config) { c.tls = cfg } }

// WithSASL authenticates every connection with this mechanism (franz-go's
// pkg/sasl/plain or pkg/sasl/scram; Java sasl.mechanism + sasl.jaas.config).
// For OAUTHBEARER and AWS_MSK_IAM prefer WithOAuthBearer (which caches and
// refreshes tokens) and WithAWSMSKIAM.
func WithSASL(m sasl.Mechanism) Opt { return func(c *config) { c.sasl = m } }

// WithDialer replaces how TCP connections to brokers are opened (default a
// net.Dialer), for proxies, custom name resolution or tests. TLS and SASL
// still run on top of the connection it returns.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Opt {
	return func(c *config) { c.dialer = dial }
}

// WithLogger sends the producer's logs to l (default: silent).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithInterceptors adds interceptors, called in order (Java interceptor.classes).
func WithInterceptors(is ...Interceptor) Opt {
	return func(c *config) { c.interceptors = append(c.interceptors, is...) }
}

// WithHooks installs hooks (see Hook), called in the order given, after
// those of earlier WithHooks options; nil hooks are skipped. A value that
// implements none of the hook interfaces fails New with ErrInvalidConfig.
func WithHooks(hs ...Hook) Opt {
	return func(c *config) {
		for _, h := range hs {
			if h == nil {
				continue
			}
			if err := c.hooks.add(h); err != nil {
				c.deferred = append(c.deferred, configError("WithHooks", "%v", err))
			}
		}
	}
}

// validate checks the settings together and settles idempotence as Java does:
// an explicit request that conflicts is an error, an implicit default yields.
func (c *config) validate() error {
	if len(c.deferred) > 0 {
		return errors.Join(c.deferred...)
	}
	if len(c.brokers) == 0 {
		return configError("bootstrap.servers (WithBrokers)", "no brokers")
	}
	for _, b := range c.brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			return configError("bootstrap.servers (WithBrokers)", "%q is not host:port", b)
		}
	}
	type check struct {
		bad  bool
		name string
		msg  string
	}
	for _, ch := range []check{
		{c.acks != AcksNone && c.acks != AcksLeader && c.acks != AcksAll, "acks (WithAcks)", "must be 0, 1 or all (-1)"},
		{c.batchSize < 0, "batch.size (WithBatchSize)", "must be >= 0"},
		{c.linger < 0, "linger.ms (WithLinger)", "must be >= 0"},
		{c.bufferMemory <= 0, "buffer.memory (WithBufferMemory)", "must be > 0"},
		{c.maxBlock < 0, "max.block.ms (WithMaxBlock)", "must be >= 0"},
		{c.maxRequestSize <= batch.Overhead, "max.request.size (WithMaxRequestSize)", fmt.Sprintf("must be > %d", batch.Overhead)},
		{c.requestTimeout <= 0, "request.timeout.ms (WithRequestTimeout)", "must be > 0"},
		{c.deliveryTimeout <= 0, "delivery.timeout.ms (WithDeliveryTimeout)", "must be > 0"},
		{c.retries < 0, "retries (WithRetries)", "must be >= 0"},
		{c.retryBackoff < 0, "retry.backoff.ms (WithRetryBackoff)", "must be >= 0"},
		{c.retryBackoffMax < c.retryBackoff, "retry.backoff.max.ms (WithRetryBackoff)", "must be >= retry.backoff.ms"},
		{c.maxInFlight < 1, "max.in.flight.requests.per.connection (WithMaxInFlight)", "must be >= 1"},
		{c.txnTimeout <= 0, "transaction.timeout.ms (WithTransactionTimeout)", "must be > 0"},
		{c.availabilityTimeout < 0, "partitioner.availability.timeout.ms (WithPartitionerAvailabilityTimeout)", "must be >= 0"},
		{c.metadataMaxAge <= 0, "metadata.max.age.ms (WithMetadataMaxAge)", "must be > 0"},
		{c.metadataMaxIdle == 0, "metadata.max.idle.ms (WithMetadataMaxIdle)", "must be > 0, or negative to keep every topic"},
		{c.reconnectBackoff < 0 || c.reconnectBackoffMax < c.reconnectBackoff, "reconnect.backoff.ms (WithReconnectBackoff)", "must be >= 0 and <= reconnect.backoff.max.ms"},
		{c.dialTimeout <= 0, "socket.connection.setup.timeout.ms (WithDialTimeout)", "must be > 0"},
		{c.sendBuffer < -1, "send.buffer.bytes (WithSocketBuffers)", "must be >= -1"},
		{c.receiveBuffer < -1, "receive.buffer.bytes (WithSocketBuffers)", "must be >= -1"},
	} {
		if ch.bad {
			return configError(ch.name, "%s", ch.msg)
		}
	}
	if c.deliveryTimeout < c.linger+c.requestTimeout {
		return configError("delivery.timeout.ms (WithDeliveryTimeout)",
			"%v must be >= linger.ms + request.timeout.ms (%v)", c.deliveryTimeout, c.linger+c.requestTimeout)
	}
	if int64(c.maxRequestSize) > c.bufferMemory {
		// Java allows it, but such a record could never get memory; say so now.
		c.maxRequestSize = int(c.bufferMemory)
	}
	for codec, level := range c.levels {
		if err := codec.CheckLevel(level); err != nil {
			return configError("compression."+codec.String()+".level (WithCompressionLevel)", "%v", err)
		}
	}
	if c.codec < batch.None || c.codec > batch.Zstd {
		return configError("compression.type (WithCompression)", "unknown codec %d", c.codec)
	}
	if c.txnID != "" {
		if c.idempotenceSet && !c.idempotence {
			return configError("enable.idempotence (WithIdempotence)", "transactional.id requires idempotence")
		}
		c.idempotence = true
	}
	if c.idempotence {
		conflict := ""
		switch {
		case c.acks != AcksAll:
			conflict = "acks (WithAcks) must be all"
		case c.retries == 0:
			conflict = "retries (WithRetries) must be > 0"
		case c.maxInFlight > 5:
			conflict = "max.in.flight.requests.per.connection (WithMaxInFlight) must be <= 5"
		}
		if conflict != "" {
			if c.idempotenceSet || c.txnID != "" {
				return configError("enable.idempotence (WithIdempotence)", "idempotence requires that %s", conflict)
			}
			c.idempotence = false
		}
	}
	return c.spool.validate(c)
}

// logIgnored logs one line per Java property given that has no effect here.
func (c *config) logIgnored() {
	if c.logger == nil {
		return
	}
	for _, ig := range c.ignored {
		level := slog.LevelInfo
		if ig.warn {
			level = slog.LevelWarn
		}
		c.logger.Log(context.Background(), level, "kprod: property has no effect here", "property", ig.key, "why", ig.why)
	}
}

// dial is the dialer of broker connections: the configured one (nil: the
// wire package's default), with the socket buffer sizes applied.
func (c *config) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.sendBuffer <= 0 && c.receiveBuffer <= 0 {
		return c.dialer
	}
	inner := c.dialer
	if inner == nil {
		var d net.Dialer
		inner = d.DialContext
	}
	send, receive := c.sendBuffer, c.receiveBuffer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := inner(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			if send > 0 {
				_ = tc.SetWriteBuffer(send)
			}
			if receive > 0 {
				_ = tc.SetReadBuffer(receive)
			}
		}
		return conn, nil
	}
}

// level is the configured level of the chosen codec.
func (c *config) level() int {
	if l, ok := c.levels[c.codec]; ok {
		return l
	}
	return batch.DefaultLevel
}
