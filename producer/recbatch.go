package producer

import (
	"context"
	"sync"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/wire"
)

// recBatch is one partition's batch of records: the encoded bytes plus, per
// record, what answering it needs. Its life (see accumulator): open →
// closed → finished → in flight → done. While it is open, the fields above
// the line are guarded by the partition's mu; once closed, the sender
// goroutine owns the batch until it is done (finished is still read under
// mu, where the queue is scanned).
type recBatch struct {
	part      *partition
	b         batch.Builder
	reserved  int // buffer.memory bytes this batch holds
	limit     int // uncompressed bytes the batch may grow to
	created   time.Time
	res       *result
	recs      []recInfo
	baseTS    int64  // the first record's create time, ms; recInfo.dts is relative to it
	baseAt    int64  // the first record's Send time, ns; recInfo.dat is relative to it
	gen       uint64 // flush generation it belongs to
	order     uint64 // position within the partition; retries go back by it
	span      uint64 // orders [order, order+span) belong to this batch, for splitting
	finished  bool   // compressed and its header written: it may go out
	finishErr error  // finishing failed (the batch is failed)
	hasCB     bool   // some record has a callback
	// hooked holds each record's send-hook context and the record itself,
	// parallel to recs, when ack hooks are installed; empty otherwise.
	hooked []hookedRec

	// ---- sender goroutine only ----
	attempts int
	retryAt  time.Time
	lastErr  error // why the last attempt failed, for the delivery timeout's message
	seq      int32 // base sequence, -1 until stamped
	// maybeApplied: an attempt ended in a way that leaves open whether the
	// broker wrote the batch (lost connection, timeout, an error raised
	// after the append). Such a batch must be resolved under its old
	// sequence before the producer moves to a new epoch.
	maybeApplied bool
	// sends counts the times the batch went out under its current
	// sequence; more than one while in flight means a resend is.
	sends int
	conn  *wire.Conn // the connection of the batch's last attempt
	// doubtfulSeqErrs counts sequence errors answered while maybeApplied
	// was set (see sender.sequenceError).
	doubtfulSeqErrs int

	// split records the parent this batch was carved from (MESSAGE_TOO_LARGE).
	split *splitLink
	// answeredAt is when the batch was answered (nanotime), for the ack
	// hooks' latency.
	answeredAt int64

	// The disk spool (spooler.go); sender goroutine only.
	spoolIDs  []uint64 // its spool entries: the batch, then its stamp entries; nil when not spooled
	onDisk    bool     // its bytes are in the spool only (its memory went back)
	diskLen   int      // its size as spooled
	rawLen    int      // its size before compression, as spooled
	foreign   bool     // replayed under the stamp an earlier producer gave it: fpid, fepoch, seq
	fpid      int64
	fepoch    int16
	spilled   int    // records counted here since recs was dropped (none has a callback or hook)
	reloaded  int    // bytes of the spooler's read-back allowance its buffer holds
	reloadBuf []byte // that buffer, whole
}

// wireLen is the batch's size as sent, in memory or on disk.
func (rb *recBatch) wireLen() int {
	if rb.onDisk {
		return rb.diskLen
	}
	return len(rb.b.Bytes())
}

// hookedRec is what the ack hooks receive of a record besides its outcome.
type hookedRec struct {
	ctx  context.Context
	rec  *Record
	size int // encoded size in the batch
}

// recInfo is what a record needs to be answered: 16 bytes, since a full
// buffer holds hundreds of thousands of them. Times are relative to the
// batch's first record; a record whose times do not fit starts a new batch.
type recInfo struct {
	cb  Callback
	dts int32 // create time, ms after the batch's baseTS
	dat int32 // when Send appended it, µs after the batch's baseAt
}

// timesFit reports whether a record created at ts (ms) and sent at at (ns)
// can join rb, whose times its records keep relative to the first one's.
func (rb *recBatch) timesFit(ts, at int64) bool {
	if len(rb.recs) == 0 {
		return true
	}
	dts, dat := ts-rb.baseTS, (at-rb.baseAt)/1e3
	return dts == int64(int32(dts)) && dat == int64(int32(dat))
}

// addRec records the answer-keeping part of an appended record; timesFit
// must have said yes.
func (rb *recBatch) addRec(cb Callback, ts, at int64) {
	if len(rb.recs) == 0 {
		rb.baseTS, rb.baseAt = ts, at
	}
	rb.recs = append(rb.recs, recInfo{cb: cb, dts: int32(ts - rb.baseTS), dat: int32((at - rb.baseAt) / 1e3)})
	if cb != nil {
		rb.hasCB = true
	}
}

// recTS is record i's create time, ms.
func (rb *recBatch) recTS(i int) int64 { return rb.baseTS + int64(rb.recs[i].dts) }

// recAt is when record i was sent, ns on the producer's clock (to the µs).
func (rb *recBatch) recAt(i int) int64 { return rb.baseAt + int64(rb.recs[i].dat)*1e3 }

// splitLink ties the batches made from a split to the results the caller's
// futures and flush wait on.
type splitLink struct {
	parent  *result
	idx     []int32 // parent index of each record of this batch
	pending *int    // batches of the split not yet answered; sender-owned
}

// spareBatches keeps answered batch objects (with their per-record slices)
// for reuse, per producer and bounded by how many batches buffer.memory can
// hold. A plain free list rather than a sync.Pool: the pool is emptied by
// every GC, and a busy producer would then regrow every slice.
type spareBatches struct {
	mu      sync.Mutex
	free    []*recBatch // guarded by mu
	limit   int
	results []result // guarded by mu; the unused rest of the current slab
}

// resultSlab is how many batch results one allocation makes. Results cannot
// be reused (a caller may keep a Future forever), so they are carved from
// slabs: one allocation per resultSlab batches, at the price of a kept
// Future pinning its slab's few KiB.
const resultSlab = 32

// take returns a batch object to fill and a fresh result for it.
func (sb *spareBatches) take() (*recBatch, *result) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if len(sb.results) == 0 {
		sb.results = make([]result, resultSlab)
	}
	res := &sb.results[0]
	sb.results = sb.results[1:]
	if n := len(sb.free); n > 0 {
		rb := sb.free[n-1]
		sb.free[n-1] = nil
		sb.free = sb.free[:n-1]
		return rb, res
	}
	return new(recBatch), res
}

func (sb *spareBatches) put(rb *recBatch) {
	sb.mu.Lock()
	if len(sb.free) < sb.limit {
		sb.free = append(sb.free, rb)
	}
	sb.mu.Unlock()
}

func (a *accumulator) newRecBatch(p *partition, buf []byte, reserved int, now time.Time, gen uint64) *recBatch {
	rb, res := a.spare.take()
	res.init(p.topic, p.id)
	rb.part = p
	rb.b.Reset(buf)
	rb.reserved = reserved
	rb.created = now
	rb.res = res
	rb.gen = gen
	rb.seq = -1
	return rb
}

// recycle keeps an answered batch for reuse. Its buffer went back to the
// buffer pool already.
func (a *accumulator) recycle(rb *recBatch) {
	clear(rb.recs)
	clear(rb.hooked)
	recs, hooked := rb.recs[:0], rb.hooked[:0]
	*rb = recBatch{recs: recs, hooked: hooked} // the builder is Reset with a buffer when reused
	a.spare.put(rb)
}

// numRecords is how many records the batch holds.
func (rb *recBatch) numRecords() int { return len(rb.recs) + rb.spilled }
