package producer

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/metadata"
	"github.com/kprod/kprod/partitioner"
)

// partition is one topic partition's queue of batches: the open batch that
// Send appends to, then the closed batches waiting for the sender, oldest
// first. The accumulator owns the queue: every lock of mu is in
// accumulator.go. The fields below the padding belong to the sender
// goroutine.
type partition struct {
	topic string
	id    int32
	tp    *topicParts

	mu        sync.Mutex
	open      *recBatch   // the batch Send appends to; guarded by mu
	queue     []*recBatch // closed and finished batches, in order; guarded by mu
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
	sent []*recBatch
	seq  partSeq // sequence state under the current producer id (epoch.go)
	// lastErr is why p's last attempt failed, until a batch is acknowledged:
	// the cause a batch that expires without an attempt of its own reports.
	lastErr error
	// lastAck is when a batch of p was last acknowledged (the spool's
	// outage clock).
	lastAck time.Time
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

// popHeadLocked removes the first queued batch. Short queues shift down so
// the slice keeps the start of its array and later appends reuse it
// (slicing off the front would make every append after a drain reallocate);
// long ones are sliced. Called with mu held.
func (p *partition) popHeadLocked() {
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
	sticky *partitioner.StickyTopic  // nil with a custom partitioner
	meta   atomic.Pointer[topicMeta] // the metadata Send last looked up
}

// topicMeta is a topic's metadata as last looked up, with the number of the
// metadata snapshot it came from.
type topicMeta struct {
	t   *metadata.Topic // nil: the snapshot had none
	gen uint64
}

// metadata returns the topic's metadata in md's current snapshot (nil when
// it has none). It looks the topic up only when md published a snapshot
// since the last call, so most records skip the lookup.
func (tp *topicParts) metadata(md *metadata.Client) *metadata.Topic {
	if m := tp.meta.Load(); m != nil && m.gen == md.Generation() {
		return m.t
	}
	t, gen := md.TopicGen(tp.name)
	tp.meta.Store(&topicMeta{t: t, gen: gen})
	return t
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
