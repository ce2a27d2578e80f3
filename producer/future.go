package producer

import (
	"context"
	"errors"
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

	// given is the answer exactly as passed to the complete function of a
	// Future made by NewFuture (nil for the producer's own batches).
	given *RecordMetadata

	durable atomic.Bool   // acknowledged, or spooled and synced
	durCh   chan struct{} // made only when someone waits; closed by markDurable; guarded by mu
}

// markDurable records that the batch's records are durable; it reports
// whether they were not already.
func (r *result) markDurable() bool {
	if r.durable.Load() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.durable.Swap(true) {
		return false
	}
	if r.durCh != nil {
		close(r.durCh)
	}
	return true
}

// durableCh returns a channel closed once the records are durable.
func (r *result) durableCh() <-chan struct{} {
	if r.durable.Load() {
		return closedCh
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.durable.Load() {
		return closedCh
	}
	if r.durCh == nil {
		r.durCh = make(chan struct{})
	}
	return r.durCh
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
	if r.given != nil {
		md := *r.given
		if r.err != nil {
			md.Offset = -1
		}
		return md, r.err
	}
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

// ErrInvalidFuture is what Get answers on a Future that no send and no
// NewFuture made: the zero Future.
var ErrInvalidFuture = errors.New("producer: invalid Future (the zero Future answers no record)")

// zeroResult is the answer of the zero Future: final, with ErrInvalidFuture.
var zeroResult = func() *result {
	r := &result{partition: -1, baseOffset: -1, logAppendTime: -1, err: ErrInvalidFuture,
		given: &RecordMetadata{Partition: -1, Offset: -1}}
	r.finished.Store(true)
	return r
}()

// Future is the pending answer of one Send. It is a small value (no
// allocation per record); copying it is fine. The zero Future is already
// done: Get returns ErrInvalidFuture.
type Future struct {
	res *result
	idx int32
	ts  int64
}

// NewFuture returns a pending Future and the function that answers it, for
// code that answers records itself: test doubles (producertest.MockProducer
// uses it) and wrappers around a Producer. complete resolves the Future with
// md and err; as with the producer's own futures, Get reports md.Offset as -1
// when err is not nil. Only the first call of complete counts: it returns
// true, later calls change nothing and return false. complete is safe to
// call from any goroutine.
func NewFuture() (f Future, complete func(md RecordMetadata, err error) bool) {
	r := &result{partition: -1, baseOffset: -1, logAppendTime: -1}
	var once atomic.Bool
	return Future{res: r}, func(md RecordMetadata, err error) bool {
		if !once.CompareAndSwap(false, true) {
			return false
		}
		r.topic, r.partition, r.given, r.err = md.Topic, md.Partition, &md, err
		if err == nil {
			r.markDurable()
		}
		r.finish()
		return true
	}
}

// result is f's shared outcome; the zero Future has zeroResult.
func (f Future) result() *result {
	if f.res == nil {
		return zeroResult
	}
	return f.res
}

// Done is closed once the record is answered.
func (f Future) Done() <-chan struct{} { return f.result().done() }

// Durable is closed once the record is durable: acknowledged by Kafka, or,
// with WithSpool, in the spool and synced as its policy says (it then
// survives a crash of the process, and with SyncAlways of the machine, and a
// producer restarted on the spool's directory sends it). A record that fails
// never becomes durable: wait on Done as well.
func (f Future) Durable() <-chan struct{} {
	if f.res == nil {
		return make(chan struct{}) // the zero Future answers no record
	}
	return f.res.durableCh()
}

// Get waits for the record's answer or for ctx to end (then it returns ctx's
// error; the record is still answered later through its callback).
func (f Future) Get(ctx context.Context) (RecordMetadata, error) {
	r := f.result()
	if r.finished.Load() {
		return r.metadata(f.idx, f.ts)
	}
	select {
	case <-r.done():
		return r.metadata(f.idx, f.ts)
	case <-ctx.Done():
		return RecordMetadata{}, ctx.Err()
	}
}
