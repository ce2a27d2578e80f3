package producer

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/spool"
	"github.com/kprod/kprod/internal/wire"
)

// Sentinel errors. Every error the producer hands out wraps one of these (or a
// broker error from kerr), so callers classify with errors.Is.
var (
	// ErrInvalidConfig: an option or property has a bad value; the message names it.
	ErrInvalidConfig = errors.New("producer: invalid config")
	// ErrRecordTooLarge: the record is larger than max.request.size or buffer.memory.
	ErrRecordTooLarge = errors.New("producer: record too large")
	// ErrBufferFull: no buffer memory became free within max.block (or at once for TrySend).
	ErrBufferFull = errors.New("producer: buffer full")
	// ErrMaxBlock: Send waited max.block for metadata or memory (the message
	// says for what and how long).
	ErrMaxBlock = errors.New("producer: max.block elapsed")
	// ErrDeliveryTimeout: the record was not acknowledged within delivery.timeout.
	ErrDeliveryTimeout = errors.New("producer: delivery timeout")
	// ErrClosed: the producer is closed or closing.
	ErrClosed = errors.New("producer: closed")
	// ErrUnknownTopic: a broker answered that the topic does not exist
	// (UNKNOWN_TOPIC_OR_PARTITION), and it was not created before the wait
	// for metadata ended; the error also wraps why the wait ended (ErrMaxBlock
	// or the ctx's error). A topic no broker could be asked about is not
	// reported with it.
	ErrUnknownTopic = errors.New("producer: unknown topic")
	// ErrInvalidRecord: the record itself is malformed (empty topic, bad topic name,
	// partition out of range or set without PinPartition, nil record).
	ErrInvalidRecord = errors.New("producer: invalid record")
	// ErrRetriesExhausted: the broker kept answering with a retriable error and
	// the retries setting ran out; the broker error is wrapped too.
	ErrRetriesExhausted = errors.New("producer: retries exhausted")
	// ErrUnsupported: the cluster does not support what was asked (zstd needs Produce v7+).
	ErrUnsupported = errors.New("producer: unsupported by broker")
	// ErrTLS: the TLS handshake with the brokers failed (unknown CA, wrong
	// name, a plaintext port).
	ErrTLS = wire.ErrTLS
	// ErrSASL: the brokers refused the SASL credentials.
	ErrSASL = wire.ErrSASL
	// ErrFatal: the producer hit an error it cannot recover from (authorization of
	// the producer id, a fenced epoch); every later Send fails with it.
	ErrFatal = errors.New("producer: fatal error")
	// ErrSpooled: the producer closed (or failed) while the record's batch
	// was in the disk spool (WithSpool); it stays there, and the next
	// producer opened on the spool's directory sends it. The error also
	// wraps why this producer stopped.
	ErrSpooled = errors.New("producer: left in the spool")
	// ErrSpoolLocked: New was given a spool directory another producer
	// (in this process or another) has open.
	ErrSpoolLocked = spool.ErrLocked
	// ErrSpoolUnreadable: the record's batch was spooled, and reading it
	// back failed (the file was damaged on disk meanwhile); the error
	// wraps why.
	ErrSpoolUnreadable = errors.New("producer: spooled batch unreadable")
	// ErrSpoolFull and ErrDiskFull: the spool refused batches, its files at
	// kprod.spool.max.bytes or its file system full; they stay in memory,
	// and a Send that then finds no memory fails with ErrBufferFull
	// wrapping the reason.
	ErrSpoolFull = spool.ErrFull
	ErrDiskFull  = spool.ErrDiskFull
)

// configError names the option that was rejected.
func configError(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, name, fmt.Sprintf(format, args...))
}

// recordError describes a malformed record.
func recordError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRecord, fmt.Sprintf(format, args...))
}

// IsRetriable reports whether err is transient, so sending the record again
// later may succeed: a retriable broker error (the producer already retried
// it until retries or delivery.timeout ran out), a delivery timeout
// (ErrDeliveryTimeout: no broker took the record in time, an unreachable
// broker or a partition without leader included), or a wait that reached
// max.block (ErrMaxBlock: metadata or buffer memory). Java's timeouts are
// retriable exceptions likewise.
func IsRetriable(err error) bool {
	if errors.Is(err, ErrDeliveryTimeout) || errors.Is(err, ErrMaxBlock) {
		return true
	}
	return brokerRetriable(err)
}

// brokerRetriable reports whether err carries a broker error code that may
// go away by sending again. CONCURRENT_TRANSACTIONS is retriable in Kafka's
// own client (4.x, where transactions v2 answers it on Produce); kerr's
// table says otherwise.
func brokerRetriable(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && (ke.Retriable || ke == kerr.ConcurrentTransactions)
}
