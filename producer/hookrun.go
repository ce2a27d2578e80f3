package producer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// hookRunner calls the installed hooks, each under a recover: a hook's
// panic is logged and counted, never the producer's end. Its fields are set
// by New and read-only after.
type hookRunner struct {
	hooks
	log *slog.Logger // nil: silent
	m   *metrics
}

// guard recovers a panic of the hook call it is deferred in.
func (h *hookRunner) guard(kind string, hook any) {
	if v := recover(); v != nil {
		h.recovered(v, kind, hook)
	}
}

func (h *hookRunner) recovered(v any, kind string, hook any) {
	h.m.callbackPanics.Add(1)
	if h.log != nil {
		h.log.Error("kprod: recovered a panic in a hook; the producer carries on",
			"hook", fmt.Sprintf("%T.%s", hook, kind), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
}

// onSend runs the send hooks in order and returns the context the record
// keeps. A hook that panics leaves the context as it was.
func (h *hookRunner) onSend(ctx context.Context, rec *Record) context.Context {
	for _, sh := range h.send {
		ctx = h.sendOne(sh, ctx, rec)
	}
	return ctx
}

func (h *hookRunner) sendOne(sh SendHook, ctx context.Context, rec *Record) (out context.Context) {
	out = ctx
	defer h.guard("OnSend", sh)
	if c := sh.OnSend(ctx, rec); c != nil {
		out = c
	}
	return out
}

// onAckNow answers the ack hooks of a record refused before Send returned.
func (h *hookRunner) onAckNow(ctx context.Context, rec *Record, md RecordMetadata, err error, start int64) {
	a := Ack{Record: rec, Metadata: md, Err: err}
	if start != 0 {
		a.Latency = time.Duration(nanotime() - start)
	}
	for _, ah := range h.ack {
		h.ackOne(ah, ctx, a)
	}
}

func (h *hookRunner) ackOne(ah AckHook, ctx context.Context, a Ack) {
	defer h.guard("OnAck", ah)
	ah.OnAck(ctx, a)
}

// batchWritten reports an acknowledged batch. Sender goroutine.
func (h *hookRunner) batchWritten(rb *recBatch, baseOffset int64, broker int32, codec Compression) {
	ev := BatchWritten{Topic: rb.part.topic, Partition: rb.part.id, Broker: broker, BaseOffset: baseOffset,
		Records: rb.numRecords(), Bytes: len(rb.b.Bytes()), UncompressedBytes: rb.b.Len(),
		Compression: codec, Attempts: rb.attempts}
	callEach(h, "OnBatchWritten", h.batch, ev, BatchHook.OnBatchWritten)
}

// retried reports a batch going back to be sent again. Sender goroutine.
func (h *hookRunner) retried(rb *recBatch, why error) {
	ev := Retry{Topic: rb.part.topic, Partition: rb.part.id, Records: rb.numRecords(), Attempt: rb.attempts, Err: why}
	callEach(h, "OnRetry", h.retry, ev, RetryHook.OnRetry)
}

// pidReset reports a move to a new producer id or epoch. Sender goroutine.
func (h *hookRunner) pidReset(ev ProducerIDReset) {
	callEach(h, "OnProducerIDReset", h.pid, ev, ProducerIDHook.OnProducerIDReset)
}

// durableBatch reports a spooled batch's records durable. Sender goroutine.
func (h *hookRunner) durableBatch(topic string, partition int32, records int) {
	callEach(h, "OnDurable", h.durable, Durable{Topic: topic, Partition: partition, Records: records}, DurableHook.OnDurable)
}

// Sent and Answered make the runner the connections' observer (installed
// only when a RequestHook is).
func (h *hookRunner) Sent(node int32, addr string, key int16, bytes int) {
	ev := RequestSent{Broker: node, Addr: addr, API: kmsg.NameForKey(key), Bytes: bytes}
	callEach(h, "OnRequestSent", h.request, ev, RequestHook.OnRequestSent)
}

func (h *hookRunner) Answered(node int32, addr string, key int16, latency, throttle time.Duration, err error) {
	ev := RequestAnswered{Broker: node, Addr: addr, API: kmsg.NameForKey(key), Latency: latency, Throttle: throttle, Err: err}
	callEach(h, "OnRequestAnswered", h.request, ev, RequestHook.OnRequestAnswered)
}

// callEach calls call(hook, ev) for each hook in order, each under a
// recover, so a panicking hook neither stops the others nor the producer.
func callEach[H any, E any](h *hookRunner, kind string, hooks []H, ev E, call func(H, E)) {
	for _, hk := range hooks {
		callOne(h, kind, hk, ev, call)
	}
}

func callOne[H any, E any](h *hookRunner, kind string, hk H, ev E, call func(H, E)) {
	defer h.guard(kind, hk)
	call(hk, ev)
}
