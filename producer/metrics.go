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

	// The disk spool (WithSpool); zero without it.
	SpooledBatches   int64 // batches written to the spool
	SpooledRecords   int64 // their records
	SpoolBytes       int64 // bytes of the spool's files now
	SpoolReads       int64 // spooled batches read back to be sent
	SpoolRefusals    int64 // appends the spool refused (full, disk full): batches stayed in memory
	ReplayedBatches  int64 // batches an earlier producer left in the spool, sent by this one
	ReplayedRecords  int64 // their records
	ReplayDuplicates int64 // replayed batches the broker already had (dropped as duplicates)
	ReplayResent     int64 // replayed batches the broker did not have under their old stamp, sent under this producer's id
	ReplayFallbacks  int64 // replayed batches of a producer the broker had forgotten: sent again, possibly twice (logged)
	SpoolTornFrames  int64 // torn writes cut from the spool's last segment when it was opened
	SpoolQuarantined int64 // corrupt spool segments set aside when it was opened (logged with their files)
	SpoolUnreadable  int64 // spool entries that could not be read or decoded (their records failed or were not replayed)
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

	spooledBatches, spooledRecords, spoolReads, spoolRefusals atomic.Int64
	replayedBatches, replayedRecords, replayDuplicates        atomic.Int64
	replayResent, replayFallbacks                             atomic.Int64
	spoolTorn, spoolQuarantined, spoolUnreadable              atomic.Int64
	spoolBytes                                                func() int64 // nil without a spool

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

		SpooledBatches:   m.spooledBatches.Load(),
		SpooledRecords:   m.spooledRecords.Load(),
		SpoolReads:       m.spoolReads.Load(),
		SpoolRefusals:    m.spoolRefusals.Load(),
		ReplayedBatches:  m.replayedBatches.Load(),
		ReplayedRecords:  m.replayedRecords.Load(),
		ReplayDuplicates: m.replayDuplicates.Load(),
		ReplayResent:     m.replayResent.Load(),
		ReplayFallbacks:  m.replayFallbacks.Load(),
		SpoolTornFrames:  m.spoolTorn.Load(),
		SpoolQuarantined: m.spoolQuarantined.Load(),
		SpoolUnreadable:  m.spoolUnreadable.Load(),
	}
	if m.spoolBytes != nil {
		s.SpoolBytes = m.spoolBytes()
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
