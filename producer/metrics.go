package producer

import (
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/histogram"
)

// Metrics is a snapshot of the producer's counters since it was created.
type Metrics struct {
	RecordsSent    int64 // acknowledged records
	RecordsFailed  int64 // records answered with an error
	RecordsRetried int64 // record sends repeated after a retriable error
	BatchesSent    int64 // batches written to a broker (retries included)
	RequestsSent   int64 // produce requests written

	AvgBatchBytes        float64 // average size of a sent batch, as written
	AvgRecordsPerRequest float64
	// CompressionRatio is written bytes over uncompressed bytes (1 without compression).
	CompressionRatio float64

	BufferBytesInUse     int64 // buffer.memory lent to batches now
	BufferBytesAvailable int64

	RequestsInFlight  int64         // produce requests written and not yet answered
	RequestLatencyAvg time.Duration // produce request write → response
	RequestLatencyMax time.Duration

	// Send→acknowledgement latency of records, over the producer's life
	// (a few ms long at most while over 200,000 records/s, as
	// Record.Timestamp).
	SendLatencyP50 time.Duration
	SendLatencyP99 time.Duration
	SendLatencyMax time.Duration

	ProducerIDResets int64 // times the idempotent producer took a new id or epoch

	// CallbackPanics counts panics recovered from callbacks and
	// acknowledgement interceptors (each is logged; the producer carries on).
	CallbackPanics int64
	// CallbacksSkipped counts callbacks never run because Close stopped
	// waiting for a callback that outlived its ctx; those records' Futures
	// hold their outcome.
	CallbacksSkipped int64
}

// metrics holds the live counters; the sender is the main writer.
type metrics struct {
	recordsSent, recordsFailed, recordsRetried atomic.Int64
	batchesSent, requestsSent                  atomic.Int64
	requestsInFlight                           atomic.Int64
	batchRecords                               atomic.Int64 // records in sent batches
	bytesWritten, bytesRaw                     atomic.Int64
	reqLatencySum, reqLatencyCount             atomic.Int64
	reqLatencyMax                              atomic.Int64
	pidResets                                  atomic.Int64
	callbackPanics, callbacksSkipped           atomic.Int64
	parallelFinishes                           atomic.Int64 // steps whose batches helpers compressed too (tests look)

	latency histogram.H // send→ack of every record
}

func (m *metrics) requestDone(d time.Duration) {
	m.reqLatencySum.Add(int64(d))
	m.reqLatencyCount.Add(1)
	for {
		cur := m.reqLatencyMax.Load()
		if int64(d) <= cur || m.reqLatencyMax.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// recordLatencies adds the send→ack latency of each record of rb.
func (m *metrics) recordLatencies(rb *recBatch, now int64) {
	m.latency.RecordAll(len(rb.recs), func(i int) int64 { return now - rb.recAt(i) })
}

func (m *metrics) snapshot(pool *bufferPool) Metrics {
	s := Metrics{
		RecordsSent:      m.recordsSent.Load(),
		RecordsFailed:    m.recordsFailed.Load(),
		RecordsRetried:   m.recordsRetried.Load(),
		BatchesSent:      m.batchesSent.Load(),
		RequestsSent:     m.requestsSent.Load(),
		RequestsInFlight: m.requestsInFlight.Load(),
		ProducerIDResets: m.pidResets.Load(),
		CallbackPanics:   m.callbackPanics.Load(),
		CallbacksSkipped: m.callbacksSkipped.Load(),
		CompressionRatio: 1,
	}
	if s.BatchesSent > 0 {
		s.AvgBatchBytes = float64(m.bytesWritten.Load()) / float64(s.BatchesSent)
	}
	if s.RequestsSent > 0 {
		s.AvgRecordsPerRequest = float64(m.batchRecords.Load()) / float64(s.RequestsSent)
	}
	if raw := m.bytesRaw.Load(); raw > 0 {
		s.CompressionRatio = float64(m.bytesWritten.Load()) / float64(raw)
	}
	if n := m.reqLatencyCount.Load(); n > 0 {
		s.RequestLatencyAvg = time.Duration(m.reqLatencySum.Load() / n)
	}
	s.RequestLatencyMax = time.Duration(m.reqLatencyMax.Load())
	s.BufferBytesInUse = pool.inUse()
	s.BufferBytesAvailable = pool.total - s.BufferBytesInUse
	// The top of each quantile's bucket, capped at the maximum: never
	// below the true figure, never above SendLatencyMax.
	s.SendLatencyP50 = time.Duration(m.latency.Upper(0.50))
	s.SendLatencyP99 = time.Duration(m.latency.Upper(0.99))
	s.SendLatencyMax = time.Duration(m.latency.Max())
	return s
}
