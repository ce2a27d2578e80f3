package producer

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/registry"
	"github.com/kprod/kprod/partitioner"
)

// accumulator is the RecordAccumulator: callers append records into the
// open batch of their partition, and the sender takes closed batches out of
// the queues. It owns every partition's queue and its lock (no other file
// takes a partition's mu); the sender asks it for what is due, ready and
// expired, and hands back what must be retried.
//
// A batch's life, in the words used throughout the package: open (taking
// appends; p.open) → closed (no more appends; queued, waiting for the
// sender to finish it) → finished (compressed, header written: it may go
// out) → in flight (in a produce request; p.sent) → done (answered, its
// callbacks queued). A retry puts an in-flight batch back into the queue,
// finished.
type accumulator struct {
	cfg    *config
	sticky *partitioner.Sticky // nil with a custom partitioner
	pool   *bufferPool
	comp   *batch.Compressor
	wake   func() // pokes the sender

	mu     sync.Mutex                   // guards writes of all and of every topicParts.parts
	topics registry.Map[topicParts]     // by name, made by newTopic on first use
	all    atomic.Pointer[[]*partition] // every partition, for the sender

	closed   atomic.Bool  // no more appends
	flushing atomic.Int32 // Flush calls in progress: every batch is ready

	flushes *flushGens
	clock   func() time.Time // time.Now; a field so tests can see the same clock
	spare   spareBatches
}

func newAccumulator(cfg *config, pool *bufferPool, comp *batch.Compressor, sticky *partitioner.Sticky, wake func()) *accumulator {
	a := &accumulator{cfg: cfg, pool: pool, comp: comp, sticky: sticky, wake: wake,
		flushes: newFlushGens(), clock: time.Now}
	a.spare.limit = int(min(cfg.bufferMemory/int64(max(cfg.batchSize, 1024)), 4096))
	a.topics.Create = a.newTopic
	a.all.Store(&[]*partition{})
	return a
}

// topic returns the state of a topic, creating it on first use.
func (a *accumulator) topic(name string) *topicParts {
	return a.topics.Get(name)
}

// lookupTopic returns the state of a topic, nil when no record was ever
// appended to it (it creates nothing for a name that may be invalid).
func (a *accumulator) lookupTopic(name string) *topicParts {
	return a.topics.Lookup(name)
}

// newTopic makes the state of a topic seen for the first time; a.topics
// calls it once per name, under its own lock.
func (a *accumulator) newTopic(name string) *topicParts {
	tp := &topicParts{name: name}
	tp.ratio.Store(math.Float64bits(1))
	tp.parts.Store(&[]*partition{})
	if a.sticky != nil {
		tp.sticky = a.sticky.Topic(name)
	}
	return tp
}

// partition returns the queue of topic/id, creating it on first use.
func (a *accumulator) partition(topic string, id int32) *partition {
	return a.topic(topic).partition(a, id)
}

// partition returns the queue of partition id, creating it on first use.
func (tp *topicParts) partition(a *accumulator, id int32) *partition {
	if ps := *tp.parts.Load(); int(id) < len(ps) {
		return ps[id]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := *tp.parts.Load()
	if int(id) < len(ps) {
		return ps[id]
	}
	grown := slices.Clone(ps)
	all := slices.Clone(*a.all.Load())
	for i := int32(len(ps)); i <= id; i++ {
		p := &partition{topic: tp.name, id: i, tp: tp}
		grown = append(grown, p)
		all = append(all, p)
	}
	tp.parts.Store(&grown)
	a.all.Store(&all)
	return grown[id]
}

// partitions is the snapshot of every partition, for the sender.
func (a *accumulator) partitions() []*partition { return *a.all.Load() }

// orderSpan is the room in the order space each new batch gets, so the parts
// of a split batch (and of their splits) sort between it and the next batch.
const orderSpan = 1 << 32

// appendArgs is one record on its way into a batch.
type appendArgs struct {
	ts       int64
	key, val []byte
	headers  []Header
	cb       Callback
	at       int64
	maxBlock time.Duration // the wait for memory ends at at+maxBlock
	block    bool          // wait for memory (false: TrySend)
	urgent   bool          // a caller waits synchronously: do not linger
	hooked   hookedRec     // kept for the ack hooks; zero without them
}

// appendResult tells Send where the record went.
type appendResult struct {
	fut   Future
	bytes int  // encoded size of the record
	full  bool // the batch it went into was closed as full
}

// append encodes the record into its partition's open batch, opening a new
// one (memory from the pool, waiting up to the deadline) when needed.
func (a *accumulator) append(ctx context.Context, p *partition, r *appendArgs) (appendResult, error) {
	p.mu.Lock()
	if a.closed.Load() {
		p.mu.Unlock()
		return appendResult{}, ErrClosed
	}
	if rb := p.open; rb != nil {
		if res, ok := a.tryAppendLocked(p, rb, r); ok {
			return res, nil // unlocked by tryAppendLocked
		}
		a.closeLocked(p, rb)
		p.mu.Unlock()
		a.wake()
	} else {
		p.mu.Unlock()
	}

	limit := p.tp.batchLimit(a)
	need := a.bufferClass(max(limit, batch.EstimateSize(r.key, r.val, r.headers)))
	buf, err := a.pool.allocate(ctx, need, monoTime(r.at).Add(r.maxBlock), r.block)
	if err != nil {
		return appendResult{}, err
	}

	need = cap(buf) // a spare buffer may be larger; all of it is accounted
	p.mu.Lock()
	if a.closed.Load() {
		p.mu.Unlock()
		a.pool.release(buf, need)
		return appendResult{}, ErrClosed
	}
	if rb := p.open; rb != nil {
		// Someone opened a batch while we waited for memory.
		if res, ok := a.tryAppendLocked(p, rb, r); ok {
			a.pool.release(buf, need)
			return res, nil
		}
		a.closeLocked(p, rb)
	}
	rb := a.newRecBatch(p, buf, need, a.clock(), a.flushes.join())
	rb.limit = limit
	if want := limit/max(batch.EstimateSize(r.key, r.val, r.headers), 1) + 1; cap(rb.recs) < want {
		// Room for as many records like this one as the batch can hold: the
		// slice then grows at most rarely.
		rb.recs = make([]recInfo, 0, want)
	}
	rb.order, rb.span = p.nextOrder*orderSpan, orderSpan
	p.nextOrder++
	p.open = rb
	res, _ := a.tryAppendLocked(p, rb, r) // the first record always fits: need covers it
	a.wake()                              // the sender must learn the new batch's linger deadline
	return res, nil
}

// queueReplayed queues, at the end of p's queue, a finished batch read from
// the spool; set fills in its spool fields. Called before the sender starts.
func (a *accumulator) queueReplayed(p *partition, now time.Time, set func(*recBatch)) *recBatch {
	rb, res := a.spare.take()
	res.init(p.topic, p.id)
	rb.part, rb.res, rb.created, rb.seq = p, res, now, -1
	rb.gen = a.flushes.join()
	set(rb)
	p.mu.Lock()
	rb.order, rb.span = p.nextOrder*orderSpan, orderSpan
	p.nextOrder++
	rb.finished = true
	p.queue = append(p.queue, rb)
	p.mu.Unlock()
	return rb
}

// tryAppendLocked appends r to rb if it fits, then unlocks p.mu and returns
// true; a batch that can take no record of the same size again is closed
// right away so it need not wait for linger. Without room it returns false
// with p.mu still held.
func (a *accumulator) tryAppendLocked(p *partition, rb *recBatch, r *appendArgs) (appendResult, bool) {
	size := rb.b.AppendSize(r.ts, r.key, r.val, r.headers)
	limit := rb.limit // the buffer may be larger (a spare one); the batch is not
	if rb.b.NumRecords() > 0 && (rb.b.Len()+size > limit || !rb.timesFit(r.ts, r.at)) {
		return appendResult{}, false
	}
	rb.b.Append(r.ts, r.key, r.val, r.headers)
	idx := int32(len(rb.recs))
	rb.addRec(r.cb, r.ts, r.at)
	if r.hooked.rec != nil {
		h := r.hooked
		h.size = size
		rb.hooked = append(rb.hooked, h)
	}
	res := appendResult{fut: Future{res: rb.res, idx: idx, ts: r.ts}, bytes: size}
	if r.urgent {
		p.urgent = true
	}
	full := rb.b.Len()+size > limit
	if full {
		a.closeLocked(p, rb)
	}
	p.mu.Unlock()
	if full || r.urgent {
		res.full = full
		a.wake()
	}
	return res, true
}

// closeLocked closes rb for appends and queues it; the sender finishes it
// (off the caller's goroutine, so one producing goroutine and the sender
// use two cores). Called with p.mu held.
func (a *accumulator) closeLocked(p *partition, rb *recBatch) {
	if p.open == rb {
		p.open = nil
	}
	p.queue = append(p.queue, rb)
}

// finish compresses a closed batch and writes its header, outside the
// partition lock (compression is the slow part). It touches rb alone, so
// several batches may be finished at once on different goroutines.
func (a *accumulator) finish(rb *recBatch) {
	rb.finishErr = rb.b.Finish(a.comp)
}

// markFinished makes a finished batch eligible to go out and feeds the
// topic's compression ratio estimate. Sender goroutine only.
func (a *accumulator) markFinished(rb *recBatch) {
	p := rb.part
	if rb.finishErr == nil && a.comp != nil {
		p.tp.observeRatio(float64(len(rb.b.Bytes())) / float64(rb.b.Len()))
	}
	p.mu.Lock()
	rb.finished = true
	p.mu.Unlock()
}

// bufferClass rounds a compressed batch's buffer up to batch.size times a
// power of two. Compressed batches are sized by a drifting ratio estimate;
// with few buffer sizes the pool reuses its spare buffers across the drift
// instead of dropping them for the collector (garbage that raised peak
// memory well above buffer.memory). The rounding is accounted, so the bound
// holds. Uncompressed batches, of one size, and buffers larger than the pool
// keeps are not rounded.
func (a *accumulator) bufferClass(n int) int {
	if a.comp == nil {
		return n
	}
	c := max(a.cfg.batchSize, 1)
	for c < n && c <= a.pool.poolable/2 {
		c *= 2
	}
	if c < n {
		return n
	}
	return c
}

// scanResult is what one scan of the accumulator found; the sender reuses it
// from step to step.
type scanResult struct {
	toFinish []*recBatch           // closed batches for the sender to finish
	ready    []*partition          // partitions whose head is finished and due
	expired  []*recBatch           // batches past delivery.timeout, out of their queues
	next     time.Time             // when something may become due, at the latest
	depth    func(*partition, int) // if set, told each partition's batches not done (adaptive partitioning)
}

// scan looks at every partition once: it closes the open batches whose
// linger passed (every one when force), takes out the queued batches whose
// delivery timeout passed, and collects the closed batches to finish and
// the partitions whose head may go out. Sender goroutine only.
func (a *accumulator) scan(now time.Time, force bool, out *scanResult) {
	clear(out.toFinish)
	clear(out.ready)
	clear(out.expired)
	out.toFinish, out.ready, out.expired = out.toFinish[:0], out.ready[:0], out.expired[:0]
	out.next = now.Add(time.Minute)
	cutoff := now.Add(-a.cfg.deliveryTimeout) // batches created before this expired
	for _, p := range a.partitions() {
		p.mu.Lock()
		// Batches closed by Send wait at the tail for the sender to finish them.
		tail := len(p.queue)
		for tail > 0 && !p.queue[tail-1].finished {
			tail--
		}
		out.toFinish = append(out.toFinish, p.queue[tail:]...)
		if rb := p.open; rb != nil {
			if due := rb.created.Add(a.cfg.linger); force || p.urgent || !due.After(now) {
				a.closeLocked(p, rb)
				out.toFinish = append(out.toFinish, rb)
			} else if due.Before(out.next) {
				out.next = due
			}
		}
		p.urgent = false
		out.expired = expireLocked(p, cutoff, out.expired)
		if len(p.queue) > 0 {
			if head := p.queue[0]; head.finished {
				// Wake for the oldest batch's expiry too: nothing else may
				// wake the sender while its batches cannot go out. (A
				// finished batch past it was taken out just above.)
				out.next = minTime(out.next, head.created.Add(a.cfg.deliveryTimeout))
				if head.retryAt.After(now) {
					out.next = minTime(out.next, head.retryAt)
				} else {
					out.ready = append(out.ready, p)
				}
			}
		}
		if out.depth != nil {
			depth := len(p.queue) + p.inflight()
			if p.open != nil {
				depth++
			}
			out.depth(p, depth)
		}
		p.mu.Unlock()
	}
}

// expireLocked takes out of p's queue the finished batches whose delivery
// timeout passed. The queue is in creation order, so the scan stops at the
// first batch still in time. A batch in flight is not in the queue; it ends
// with its response. Called with p.mu held.
func expireLocked(p *partition, cutoff time.Time, out []*recBatch) []*recBatch {
	n := 0
	for n < len(p.queue) && !p.queue[n].created.After(cutoff) {
		n++
	}
	if n == 0 {
		return out
	}
	kept := p.queue[:0]
	for i, rb := range p.queue {
		if i < n && rb.finished && rb.spoolIDs == nil { // a spooled batch waits as long as it takes
			out = append(out, rb)
			continue
		}
		kept = append(kept, rb)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	return out
}

// head is p's first queued batch if it is finished and its retry time has
// come, else nil. Only the sender takes batches out of a queue, so the head
// stays until the sender pops it. Sender goroutine only.
func (a *accumulator) head(p *partition, now time.Time) *recBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	if rb := p.queue[0]; rb.finished && !rb.retryAt.After(now) {
		return rb
	}
	return nil
}

// pop takes rb, the head that head returned, out of p's queue. Sender
// goroutine only.
func (a *accumulator) pop(p *partition, rb *recBatch) {
	p.mu.Lock()
	if len(p.queue) > 0 && p.queue[0] == rb {
		p.popHeadLocked()
	}
	p.mu.Unlock()
}

// requeue puts rb, finished, back into its partition's queue, ahead of
// every batch made after it. Sender goroutine only.
func (a *accumulator) requeue(rb *recBatch) {
	p := rb.part
	p.mu.Lock()
	i := 0
	for i < len(p.queue) && p.queue[i].order < rb.order {
		i++
	}
	p.queue = append(p.queue, nil)
	copy(p.queue[i+1:], p.queue[i:])
	p.queue[i] = rb
	settleDoubtLocked(p.queue)
	p.mu.Unlock()
}

// takeQueued removes from p the batches not in flight: those in the queue
// and, with open, the open batch too.
func (a *accumulator) takeQueued(p *partition, open bool) []*recBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.queue
	p.queue = nil
	if rb := p.open; open && rb != nil {
		p.open = nil
		out = append(out, rb)
	}
	return out
}

// empty reports whether no partition holds an open or queued batch.
func (a *accumulator) empty() bool {
	for _, p := range a.partitions() {
		p.mu.Lock()
		busy := p.open != nil || len(p.queue) > 0
		p.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// eachQueued calls fn with p's queued batches in order, under p's lock,
// until fn returns false. fn must not call back into the accumulator.
// Sender goroutine only (fn reads and writes sender-owned batch fields).
func (a *accumulator) eachQueued(p *partition, fn func(rb *recBatch) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rb := range p.queue {
		if !fn(rb) {
			return
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
