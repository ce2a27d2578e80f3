package producer

import (
	"time"
)

// Header is a record header: a key (which may be empty, as in Kafka and
// Java; only a null key cannot be written) and a value, nil for a null one.
type Header = struct {
	Key   string
	Value []byte
}

// Record is one message to send. The producer copies Key, Value and Headers
// into its batch during Send, so the caller may reuse them once Send returns.
type Record struct {
	// Topic names the topic to write to; required.
	Topic string
	// Key is hashed (murmur2, as the Java client does) to pick the partition
	// unless the partition is pinned; nil means a null key.
	Key []byte
	// Value is the payload; nil means a null value (a tombstone on compacted topics).
	Value []byte
	// Headers are carried with the record, in order.
	Headers []Header
	// Timestamp is the record's create time; the zero value means the time
	// of Send (to a few milliseconds while the producer sends more than
	// 200,000 records/s: it then reads the clock once a millisecond, not
	// once a record).
	Timestamp time.Time
	// Partition is where the record goes when PinPartition is true. Without
	// PinPartition the partitioner decides, and Partition must be 0: a
	// record with another Partition but no PinPartition is refused with
	// ErrInvalidRecord rather than sent elsewhere.
	Partition int32
	// PinPartition makes Partition explicit (it always wins over keys and partitioners).
	PinPartition bool
}

// RecordMetadata says where a record was written.
type RecordMetadata struct {
	Topic     string
	Partition int32
	// Offset is the record's offset, or -1 when unknown (acks=0, or a duplicate
	// the broker recognised without telling the original offset).
	Offset int64
	// Timestamp is the record's create time, or the broker's append time when
	// the topic uses LogAppendTime.
	Timestamp time.Time
}

// Callback receives a record's outcome exactly once: metadata on success, or
// the error that ended its delivery. Callbacks run one at a time on the
// producer's callback goroutine (or on the caller's, for a record refused
// before Send returns). A callback that panics on the callback goroutine
// is recovered: the panic is logged and counted (Metrics.CallbackPanics),
// the record is not answered again, and later records are answered as
// usual. A callback may call Close (see Close for what it then waits for).
type Callback func(RecordMetadata, error)
