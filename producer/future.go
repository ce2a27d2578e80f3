package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// result is the outcome shared by every record of one batch (one per batch,
// carved from slabs, not one per record). It is written once by the sender
// goroutine before done is closed, and only read after.
type result struct {
	finished atomic.Bool   // the outcome below is final
	mu       sync.Mutex    // guards waitCh
	waitCh   chan struct{} // made only when someone waits; closed by finish

	topic     string
	partition int32

	baseOffset    int64 // -1 when unknown
	logAppendTime int64 // ms, -1 when the topic uses CreateTime
	err           error

	// perRecord is set instead when the batch was split and its records were
	// answered by several smaller batches.
	perRecord []outcome
}

// outcome is one record's answer after a split.
type outcome struct {
	offset        int64
	logAppendTime int64
	err           error
}

// init readies a zero result for a batch of topic and partition.
func (r *result) init(topic string, partition int32) {
	r.topic, r.partition, r.baseOffset, r.logAppendTime = topic, partition, -1, -1
}

// closedCh is the Done channel of a result already finished when asked.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// finish publishes the outcome (written before the call) to every waiter.
func (r *result) finish() {
	r.mu.Lock()
	r.finished.Store(true)
	if r.waitCh != nil {
		close(r.waitCh)
	}
	r.mu.Unlock()
}

// done returns a channel closed once the result is final; a channel is only
// made for results somebody waits on.
func (r *result) done() <-chan struct{} {
	if r.finished.Load() {
		return closedCh
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished.Load() {
		return closedCh
	}
	if r.waitCh == nil {
		r.waitCh = make(chan struct{})
	}
	return r.waitCh
}

// failedResult is the answer of a Send that failed before reaching a batch.
func failedResult(rec *Record, err error) *result {
	r := &result{baseOffset: -1, logAppendTime: -1, err: err}
	if rec != nil {
		r.topic, r.partition = rec.Topic, -1
		if rec.PinPartition {
			r.partition = rec.Partition
		}
	}
	r.finished.Store(true)
	return r
}

// metadata is the answer for the record at index idx with create time ts (ms).
func (r *result) metadata(idx int32, ts int64) (RecordMetadata, error) {
	off, lat, err := r.baseOffset, r.logAppendTime, r.err
	if r.perRecord != nil {
		o := r.perRecord[idx]
		off, lat, err = o.offset, o.logAppendTime, o.err
	} else if off >= 0 {
		off += int64(idx)
	}
	md := RecordMetadata{Topic: r.topic, Partition: r.partition, Offset: off, Timestamp: time.UnixMilli(ts)}
	if lat >= 0 {
		md.Timestamp = time.UnixMilli(lat)
	}
	if err != nil {
		md.Offset = -1
	}
	return md, err
}

// Future is the pending answer of one Send. It is a small value (no
// allocation per record); copying it is fine. The zero Future is not valid.
type Future struct {
	res *result
	idx int32
	ts  int64
}

// Done is closed once the record is answered.
func (f Future) Done() <-chan struct{} { return f.res.done() }

// Get waits for the record's answer or for ctx to end (then it returns ctx's
// error; the record is still answered later through its callback).
func (f Future) Get(ctx context.Context) (RecordMetadata, error) {
	if f.res.finished.Load() {
		return f.res.metadata(f.idx, f.ts)
	}
	select {
	case <-f.res.done():
		return f.res.metadata(f.idx, f.ts)
	case <-ctx.Done():
		return RecordMetadata{}, ctx.Err()
	}
}
