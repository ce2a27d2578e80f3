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

// partition is one topic partition's queue of batches: the open batch that
// Send appends to, then sealed batches waiting for the sender, oldest first.
type partition struct {
	topic string
	id    int32
	tp    *topicParts

	mu        sync.Mutex
	open      *recBatch   // guarded by mu
	queue     []*recBatch // sealed or sealing batches by order; guarded by mu
	urgent    bool        // a synchronous send waits on the open batch; guarded by mu
	nextOrder uint64      // guarded by mu

	// The sender writes the fields below on every request; keeping them off
	// the cache line of mu and open spares the appending goroutine a cache
	// miss per record.
	_ [64]byte

	// ---- sender goroutine only ----
	// sent holds the batches of this partition in flight, in the order they
	// went out: the sender's own count, which drops only once it has handled
	// an answer (a connection frees its slot earlier, when it reads one).
	sent    []*recBatch
	nextSeq int32 // next base sequence (idempotence)
	// confirmed: a batch of the current producer id and epoch was
	// acknowledged here. Until then one batch goes at a time, because a
	// broker with no state for the producer may accept any first sequence,
	// and a later batch could land before an earlier one that failed.
	confirmed bool
	// ackedOrder is the order of the latest batch acknowledged under the
	// current producer id and epoch (meaningful once confirmed). A broker
	// appends a producer's batches only in sequence order, so every batch
	// before it is in the log.
	ackedOrder uint64
	// lastErr is why p's last attempt failed, until a batch is acknowledged:
	// the cause a batch that expires without an attempt of its own reports.
	lastErr error
}

// acknowledged notes that the broker acknowledged rb. Sender goroutine only.
func (p *partition) acknowledged(rb *recBatch) {
	if !p.confirmed || rb.order > p.ackedOrder {
		p.ackedOrder = rb.order
	}
	p.confirmed, p.lastErr = true, nil
}

// provenWritten reports whether rb, a batch under the current epoch, must
// be in the log because a later batch of p was acknowledged. Sender
// goroutine only.
func (p *partition) provenWritten(rb *recBatch) bool {
	return p.confirmed && rb.seq >= 0 && p.ackedOrder > rb.order
}

// inflight is how many batches of p are in flight. Sender goroutine only.
func (p *partition) inflight() int { return len(p.sent) }

// resendInFlight reports whether a batch of p that went out before is in
// flight again. Sender goroutine only.
func (p *partition) resendInFlight() bool {
	for _, rb := range p.sent {
		if rb.sends > 1 {
			return true
		}
	}
	return false
}

// answered removes rb from p's batches in flight. Sender goroutine only.
func (p *partition) answered(rb *recBatch) {
	for i, q := range p.sent {
		if q == rb {
			copy(p.sent[i:], p.sent[i+1:])
			p.sent[len(p.sent)-1] = nil
			p.sent = p.sent[:len(p.sent)-1]
			return
		}
	}
}

// popHead removes the first queued batch. Short queues shift down so the
// slice keeps the start of its array and later appends reuse it (slicing
// off the front would make every append after a drain reallocate); long
// ones are sliced. Called with mu held.
func (p *partition) popHead() {
	n := len(p.queue)
	if n > 32 {
		p.queue[0] = nil
		p.queue = p.queue[1:]
		return
	}
	copy(p.queue, p.queue[1:])
	p.queue[n-1] = nil
	p.queue = p.queue[:n-1]
}

// topicParts holds a topic's partitions, grown when the partition count
// grows, and its sticky partitioner state: one lookup by name per Send.
type topicParts struct {
	name   string
	ratio  atomic.Uint64 // compression ratio estimate, float64 bits (written bytes / raw bytes)
	parts  atomic.Pointer[[]*partition]
	sticky *partitioner.StickyTopic // nil with a custom partitioner
}

// accumulator is the RecordAccumulator: callers append records into the open
// batch of their partition; the sender seals and drains batches.
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

	genMu      sync.Mutex
	gen        uint64           // guarded by genMu
	unfinished map[uint64]int   // batches not yet answered, by flush generation; guarded by genMu
	genChanged chan struct{}    // closed and replaced when unfinished shrinks while someone waits; guarded by genMu
	genWaiters int              // Flush calls waiting on genChanged; guarded by genMu
	clock      func() time.Time // time.Now; a field so tests can see the same clock
	spare      spareBatches
}

func newAccumulator(cfg *config, pool *bufferPool, comp *batch.Compressor, sticky *partitioner.Sticky, wake func()) *accumulator {
	a := &accumulator{cfg: cfg, pool: pool, comp: comp, sticky: sticky, wake: wake,
		unfinished: make(map[uint64]int), genChanged: make(chan struct{}), clock: time.Now}
	a.spare.limit = int(min(cfg.bufferMemory/int64(max(cfg.batchSize, 1024)), 4096))
	a.topics.Create = a.newTopic
	a.all.Store(&[]*partition{})
	return a
}

// topic returns the state of a topic, creating it on first use.
func (a *accumulator) topic(name string) *topicParts {
	return a.topics.Get(name)
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
}

// appendResult tells Send where the record went.
type appendResult struct {
	fut   Future
	bytes int  // encoded size of the record
	full  bool // the batch it went into was sealed as full
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
		a.sealLocked(p, rb)
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
		a.sealLocked(p, rb)
	}
	rb := a.newRecBatch(p, buf, need, a.clock(), a.currentGen())
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

// tryAppendLocked appends r to rb if it fits, then unlocks p.mu and returns
// true; a batch that can take no record of the same size again is sealed
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
	res := appendResult{fut: Future{res: rb.res, idx: idx, ts: r.ts}, bytes: size}
	if r.urgent {
		p.urgent = true
	}
	full := rb.b.Len()+size > limit
	if full {
		a.sealLocked(p, rb)
	}
	p.mu.Unlock()
	if full || r.urgent {
		res.full = full
		a.wake()
	}
	return res, true
}

// sealLocked closes rb for appends and queues it; the sender compresses it
// (off the caller's goroutine, so one producing goroutine and the sender use
// two cores).
func (a *accumulator) sealLocked(p *partition, rb *recBatch) {
	if p.open == rb {
		p.open = nil
	}
	p.queue = append(p.queue, rb)
}

// closeBatch compresses a sealed batch and finishes its header, outside the
// partition lock (compression is the slow part). It touches rb alone, so
// several batches may be closed at once on different goroutines.
func (a *accumulator) closeBatch(rb *recBatch) {
	rb.sealErr = rb.b.Close(a.comp)
}

// markSealed makes a closed batch ready to send and feeds the topic's
// compression ratio estimate. Sender goroutine only.
func (a *accumulator) markSealed(rb *recBatch) {
	p := rb.part
	if rb.sealErr == nil && a.comp != nil {
		p.tp.observeRatio(float64(len(rb.b.Bytes())) / float64(rb.b.Len()))
	}
	p.mu.Lock()
	rb.sealed = true
	p.mu.Unlock()
}

// Compression ratio estimate, as the Java producer keeps one per topic: a
// worse ratio is taken at once (or a step of 0.05 at least), a better one
// is approached in steps of 0.005, so batches rarely overshoot batch.size.
const (
	ratioWorseStep  = 0.05
	ratioBetterStep = 0.005
)

// observeRatio updates the topic's estimate with a batch's actual ratio.
// Sender goroutine only (the single writer).
func (tp *topicParts) observeRatio(observed float64) {
	est := math.Float64frombits(tp.ratio.Load())
	if observed > est {
		est = max(est+ratioWorseStep, observed)
	} else {
		est = max(est-ratioBetterStep, observed)
	}
	tp.ratio.Store(math.Float64bits(min(max(est, 0.01), 1)))
}

// wireBytes estimates what n uncompressed bytes take on the wire, for the
// sticky partitioner's count of bytes sent to a partition.
func (tp *topicParts) wireBytes(a *accumulator, n int) int {
	if a.comp == nil {
		return n
	}
	return int(float64(n) * math.Float64frombits(tp.ratio.Load()))
}

// batchLimit is how many uncompressed bytes a new batch of the topic may
// hold: batch.size divided by the estimated compression ratio, so that the
// batch is about batch.size on the wire (at most max.request.size).
func (tp *topicParts) batchLimit(a *accumulator) int {
	if a.comp == nil || a.cfg.batchSize <= 0 {
		return a.cfg.batchSize
	}
	est := math.Float64frombits(tp.ratio.Load())
	limit := min(int(float64(a.cfg.batchSize)/est), max(a.cfg.maxRequestSize, a.cfg.batchSize))
	// Multiples of a quarter batch.size: buffers then come in few sizes and
	// are reused, and the wire size stays within batch.size.
	step := max(a.cfg.batchSize/4, 1)
	return max(limit/step*step, a.cfg.batchSize)
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

// currentGen is the flush generation new batches belong to, counted as unfinished.
func (a *accumulator) currentGen() uint64 {
	a.genMu.Lock()
	defer a.genMu.Unlock()
	a.unfinished[a.gen]++
	return a.gen
}

// addUnfinished counts one more batch of generation gen (a split part).
func (a *accumulator) addUnfinished(gen uint64) {
	a.genMu.Lock()
	a.unfinished[gen]++
	a.genMu.Unlock()
}

// finished records that a batch was answered and its callbacks ran.
func (a *accumulator) finished(gen uint64) {
	a.genMu.Lock()
	defer a.genMu.Unlock()
	if a.unfinished[gen]--; a.unfinished[gen] <= 0 {
		delete(a.unfinished, gen)
	}
	if a.genWaiters > 0 {
		close(a.genChanged)
		a.genChanged = make(chan struct{})
	}
}

// awaitFlushed waits until every batch of generation gen or older is finished.
func (a *accumulator) awaitFlushed(ctx context.Context, gen uint64) error {
	a.genMu.Lock()
	a.genWaiters++
	a.genMu.Unlock()
	defer func() {
		a.genMu.Lock()
		a.genWaiters--
		a.genMu.Unlock()
	}()
	for {
		a.genMu.Lock()
		pending := false
		for g := range a.unfinished {
			if g <= gen {
				pending = true
				break
			}
		}
		ch := a.genChanged
		a.genMu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// beginFlush starts a new generation and returns the one to wait for.
func (a *accumulator) beginFlush() uint64 {
	a.genMu.Lock()
	defer a.genMu.Unlock()
	g := a.gen
	a.gen++
	return g
}
