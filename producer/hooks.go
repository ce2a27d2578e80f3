package producer

import (
	"context"
	"fmt"
	"time"
)

// Hook is a value that implements one or more of SendHook, AckHook,
// BatchHook, RequestHook, RetryHook, ProducerIDHook and DurableHook. WithHooks installs
// hooks; each is called for the interfaces it implements. Tracing and
// metrics adapters are built on them. With no hook of a kind installed, the
// producer pays nothing for that kind.
//
// A hook that panics is recovered: the panic is logged and counted
// (Metrics.CallbackPanics) and the producer carries on.
type Hook any

// SendHook is called for every record passed to Send, TrySend or SendSync,
// on the caller's goroutine, after the interceptors and before the record
// is checked, partitioned and copied into its batch. ctx is the context
// given to Send (or, after the first hook, what the previous hook
// returned). rec is the producer's copy of the caller's Record: the hook may
// set its fields, Headers included (to carry trace context, for example),
// without the caller seeing the change; its slices are the caller's, so
// build a new Headers slice rather than writing into the one there. The
// hook returns the context the record keeps until it is answered: AckHooks
// receive it. Return ctx itself when there is nothing to keep.
type SendHook interface {
	OnSend(ctx context.Context, rec *Record) context.Context
}

// AckHook is called once for every record a SendHook saw, with the
// context the send hooks returned and the record's answer. It runs on the
// callback goroutine just before the record's interceptors and callback
// (on the caller's goroutine for a record refused before Send returned).
// A record's Future may resolve, and SendSync return, a moment before its
// ack hooks run; Flush and Close wait for them.
type AckHook interface {
	OnAck(ctx context.Context, a Ack)
}

// Ack is a record's answer, as an AckHook sees it.
type Ack struct {
	// Record is the record as the interceptors and send hooks left it: the
	// producer's copy of the caller's Record. Its Key, Value and Headers
	// slices are the caller's, who may reuse them once Send returned: a
	// hook that reads them needs callers that leave them alone until the
	// answer. Metadata and Size never depend on the caller.
	Record   *Record
	Metadata RecordMetadata // where it was written (Offset -1 when unknown or failed)
	Err      error          // nil when written
	Latency  time.Duration  // from Send to the answer (a few ms long at most while over 200,000 records/s, as Record.Timestamp)
	// Size is the record's encoded size in its batch before compression
	// (key, value, headers and framing); 0 for a record refused before it
	// reached a batch.
	Size int
}

// BatchHook is called on the producer's sender goroutine for each batch a
// broker acknowledged. It must be fast.
type BatchHook interface {
	OnBatchWritten(BatchWritten)
}

// BatchWritten describes a batch a broker acknowledged.
type BatchWritten struct {
	Topic     string
	Partition int32
	Broker    int32 // the leader that acknowledged it
	// BaseOffset is the offset of the batch's first record, or -1 when
	// unknown (acks=0, or a duplicate the broker recognised).
	BaseOffset        int64
	Records           int
	Bytes             int // as written: compressed, with the batch header
	UncompressedBytes int
	Compression       Compression
	Attempts          int // sends of the batch that ended in a retry before this one
}

// RequestHook sees every request the producer sends to a broker after the
// connection's handshake (Produce, Metadata, InitProducerId, the
// transaction requests): one OnRequestSent, then exactly one
// OnRequestAnswered whatever the outcome, so the two can count requests
// in flight. The calls come from the producer's goroutines and connection
// readers and must be fast.
type RequestHook interface {
	OnRequestSent(RequestSent)
	OnRequestAnswered(RequestAnswered)
}

// RequestSent describes a request handed to a broker connection.
type RequestSent struct {
	Broker int32  // node id; negative for a bootstrap address
	Addr   string // host:port
	API    string // the request's name in the Kafka protocol, such as "Produce"
	Bytes  int    // the encoded request, size prefix included
}

// RequestAnswered describes the end of a request: its response arrived,
// or it failed (Err: timed out, connection lost, could not be written).
type RequestAnswered struct {
	Broker   int32
	Addr     string
	API      string
	Latency  time.Duration // from sending to the response
	Throttle time.Duration // the broker's quota throttle, as the response stated
	Err      error
}

// RetryHook is called on the sender goroutine each time a batch goes back
// to be sent again after a retriable outcome.
type RetryHook interface {
	OnRetry(Retry)
}

// Retry describes a batch about to be sent again.
type Retry struct {
	Topic     string
	Partition int32
	Records   int
	Attempt   int   // attempts that counted against retries so far
	Err       error // why the last send did not succeed
}

// ProducerIDHook is called on the sender goroutine when the idempotent or
// transactional producer leaves its producer id or epoch for a new one to
// recover from an error (not for the first id, nor for a transaction
// producer's epoch bumped by a new InitProducerId).
type ProducerIDHook interface {
	OnProducerIDReset(ProducerIDReset)
}

// ProducerIDReset describes a move to a new producer id or epoch.
type ProducerIDReset struct {
	ProducerID, PrevProducerID int64
	Epoch, PrevEpoch           int16
}

// DurableHook is called on the sender goroutine when records of a batch
// become durable before Kafka acknowledged them: the batch is in the disk
// spool (WithSpool) and synced as its policy says. Records acknowledged
// first are not reported here; their Future's Durable channel closes with
// the acknowledgement. It must be fast.
type DurableHook interface {
	OnDurable(Durable)
}

// Durable describes a spooled batch whose records are now durable.
type Durable struct {
	Topic     string
	Partition int32
	Records   int
}

// hooks holds the installed hooks by kind; set once by New.
type hooks struct {
	send    []SendHook
	ack     []AckHook
	batch   []BatchHook
	request []RequestHook
	retry   []RetryHook
	pid     []ProducerIDHook
	durable []DurableHook
}

// addHook files h under every kind it implements; a value implementing
// none is a configuration mistake.
func (hs *hooks) add(h Hook) error {
	n := 0
	if x, ok := h.(SendHook); ok {
		hs.send, n = append(hs.send, x), n+1
	}
	if x, ok := h.(AckHook); ok {
		hs.ack, n = append(hs.ack, x), n+1
	}
	if x, ok := h.(BatchHook); ok {
		hs.batch, n = append(hs.batch, x), n+1
	}
	if x, ok := h.(RequestHook); ok {
		hs.request, n = append(hs.request, x), n+1
	}
	if x, ok := h.(RetryHook); ok {
		hs.retry, n = append(hs.retry, x), n+1
	}
	if x, ok := h.(ProducerIDHook); ok {
		hs.pid, n = append(hs.pid, x), n+1
	}
	if x, ok := h.(DurableHook); ok {
		hs.durable, n = append(hs.durable, x), n+1
	}
	if n == 0 {
		return fmt.Errorf("%T implements none of the hook interfaces (SendHook, AckHook, BatchHook, RequestHook, RetryHook, ProducerIDHook, DurableHook)", h)
	}
	return nil
}
