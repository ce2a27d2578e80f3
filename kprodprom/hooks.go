package kprodprom

import (
	"context"

	"github.com/kprod/kprod/producer"
)

// OnAck counts the record as sent (with its encoded bytes and send→ack
// latency) or as failed; part of producer.AckHook. It runs once per record,
// so after a topic's first record it looks up no label and allocates
// nothing. It reads nothing of the caller's record.
func (m *Metrics) OnAck(_ context.Context, a producer.Ack) {
	// Metadata.Topic is the producer's copy of the record's topic.
	t := m.topic(a.Metadata.Topic)
	if a.Err != nil {
		t.failed.Inc()
		return
	}
	t.sent.Inc()
	t.ackLatency.Observe(a.Latency.Seconds())
	t.bytes.Add(float64(a.Size))
}

// OnBatchWritten observes an acknowledged batch; part of producer.BatchHook.
func (m *Metrics) OnBatchWritten(b producer.BatchWritten) {
	t := m.topic(b.Topic)
	t.batches.Inc()
	t.batchBytes.Observe(float64(b.Bytes))
	t.batchRecords.Observe(float64(b.Records))
	t.rawBytes.Add(float64(b.UncompressedBytes))
}

// OnRetry counts the records of a batch sent again; part of producer.RetryHook.
func (m *Metrics) OnRetry(r producer.Retry) {
	m.topic(r.Topic).retried.Add(float64(r.Records))
}

// OnProducerIDReset counts a move to a new producer id or epoch; part of
// producer.ProducerIDHook.
func (m *Metrics) OnProducerIDReset(producer.ProducerIDReset) {
	m.pidResets.Inc()
}

// OnRequestSent counts a request in flight to its broker; part of
// producer.RequestHook.
func (m *Metrics) OnRequestSent(r producer.RequestSent) {
	m.request(r.Broker, r.API).inFlight.Inc()
}

// OnRequestAnswered ends a request in flight and observes its latency,
// throttle and error; part of producer.RequestHook.
func (m *Metrics) OnRequestAnswered(r producer.RequestAnswered) {
	rm := m.request(r.Broker, r.API)
	rm.inFlight.Dec()
	rm.latency.Observe(r.Latency.Seconds())
	if r.Throttle > 0 {
		rm.throttle.Add(r.Throttle.Seconds())
	}
	if r.Err != nil {
		rm.errors.Inc()
	}
}
