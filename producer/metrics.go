package producer

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
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

	RequestLatencyAvg time.Duration // produce request write → response
	RequestLatencyMax time.Duration

	// Send→acknowledgement latency of records, over the producer's life.
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
	batchRecords                               atomic.Int64 // records in sent batches
	bytesWritten, bytesRaw                     atomic.Int64
	reqLatencySum, reqLatencyCount             atomic.Int64
	reqLatencyMax                              atomic.Int64
	pidResets                                  atomic.Int64
	callbackPanics, callbacksSkipped           atomic.Int64
	parallelFinishes                           atomic.Int64 // steps whose batches helpers compressed too (tests look)

	histMu sync.Mutex
	hist   latencyHistogram // guarded by histMu
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
	m.histMu.Lock()
	for i := range rb.recs {
		m.hist.add(now - rb.recAt(i))
	}
	m.histMu.Unlock()
}

func (m *metrics) snapshot(pool *bufferPool) Metrics {
	s := Metrics{
		RecordsSent:      m.recordsSent.Load(),
		RecordsFailed:    m.recordsFailed.Load(),
		RecordsRetried:   m.recordsRetried.Load(),
		BatchesSent:      m.batchesSent.Load(),
		RequestsSent:     m.requestsSent.Load(),
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
	m.histMu.Lock()
	s.SendLatencyP50 = time.Duration(m.hist.quantile(0.50))
	s.SendLatencyP99 = time.Duration(m.hist.quantile(0.99))
	s.SendLatencyMax = time.Duration(m.hist.max)
	m.histMu.Unlock()
	return s
}

// latencyHistogram counts durations in log-linear buckets: 16 sub-buckets per
// power of two of nanoseconds, so any quantile is within about 6%.
type latencyHistogram struct {
	counts [64 * histSub]int64
	total  int64
	max    int64
}

const histSub = 16

func histBucket(ns int64) int {
	if ns < histSub {
		return int(max(ns, 0))
	}
	exp := bits.Len64(uint64(ns)) - 1 // ns in [2^exp, 2^(exp+1))
	sub := int(ns>>(exp-4)) & (histSub - 1)
	return (exp-3)*histSub + sub
}

// histLow is the smallest duration of bucket i.
func histLow(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	exp := i/histSub + 3
	return int64(histSub+i%histSub) << (exp - 4)
}

func (h *latencyHistogram) add(ns int64) {
	h.counts[histBucket(ns)]++
	h.total++
	if ns > h.max {
		h.max = ns
	}
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *latencyHistogram) quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.total)))
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(histLow(i+1)-1, h.max)
		}
	}
	return h.max
}
