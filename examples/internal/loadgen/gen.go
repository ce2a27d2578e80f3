package loadgen

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/histogram"
	"github.com/kprod/kprod/producer"
)

// clockBase anchors nanotime.
var clockBase = time.Now()

// nanotime is monotonic nanoseconds since the process started.
func nanotime() int64 { return int64(time.Since(clockBase)) }

// Tally counts the answers of a run, or of one phase of it (a warm-up, then
// the measured part): how many came, how many were errors and the first of
// them, and the send→answer latency of the timed records. Answers arrive on
// the libraries' callback goroutines (or on the sending one, for a record
// refused at once); readers may look at any time.
type Tally struct {
	target int64
	done   chan struct{} // closed when target records were answered

	answered atomic.Int64
	errors   atomic.Int64
	latSum   atomic.Int64 // ns, of the timed records
	latMax   atomic.Int64 // ns, of the timed records
	winMax   atomic.Int64 // ns, largest since the last TakeWindowMax
	firstErr atomic.Pointer[error]
	hist     histogram.H // latencies of the timed records
}

// NewTally returns the tally of a run of records records.
func NewTally(records int64) *Tally {
	return &Tally{target: records, done: make(chan struct{})}
}

// Records is how many records the run sends.
func (t *Tally) Records() int64 { return t.target }

// Done is closed once every record of the run was answered.
func (t *Tally) Done() <-chan struct{} { return t.done }

// Answered is how many records were answered so far, failures included.
func (t *Tally) Answered() int64 { return t.answered.Load() }

// Errors is how many records were answered with an error.
func (t *Tally) Errors() int64 { return t.errors.Load() }

// FirstErr is the first error a record was answered with, nil for none.
func (t *Tally) FirstErr() error {
	if ep := t.firstErr.Load(); ep != nil {
		return *ep
	}
	return nil
}

// LatencySum is the sum of the timed records' latencies, in nanoseconds.
func (t *Tally) LatencySum() int64 { return t.latSum.Load() }

// MaxLatency is the largest latency of a timed record, in nanoseconds.
func (t *Tally) MaxLatency() int64 { return t.latMax.Load() }

// TakeWindowMax returns the largest latency since the previous call (or the
// start) and begins a new window; progress lines report it.
func (t *Tally) TakeWindowMax() int64 { return t.winMax.Swap(0) }

// Quantile is the timed records' latency at quantile q (0 < q ≤ 1) in
// nanoseconds, within 1/64; 0 before any.
func (t *Tally) Quantile(q float64) int64 { return t.hist.Mid(q) }

// Count notes one answered record that was not timed.
func (t *Tally) Count(err error) {
	if err != nil {
		t.fail(err)
	}
	if t.answered.Add(1) == t.target {
		close(t.done)
	}
}

// Timed notes one answered record whose latency, lat nanoseconds, was measured.
func (t *Tally) Timed(lat int64, err error) {
	t.latSum.Add(lat)
	raise(&t.latMax, lat)
	raise(&t.winMax, lat)
	t.hist.Record(lat)
	t.Count(err)
}

// fail is apart from Count so that only a failure moves err to the heap.
func (t *Tally) fail(err error) {
	t.errors.Add(1)
	if t.firstErr.Load() == nil {
		t.firstErr.CompareAndSwap(nil, &err)
	}
}

// raise sets a to v when v is larger.
func raise(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// FreeList recycles objects between the one sending goroutine (Get) and the
// callback goroutines (Put). Get takes from a private cache that is refilled
// a whole batch at a time, so the two sides rarely meet on the lock.
type FreeList[T any] struct {
	cache    []*T // sending goroutine only
	mu       sync.Mutex
	returned []*T // guarded by mu
}

// Get returns a recycled object, or nil when there is none.
func (l *FreeList[T]) Get() *T {
	if len(l.cache) == 0 {
		l.mu.Lock()
		l.cache, l.returned = l.returned, l.cache[:0]
		l.mu.Unlock()
	}
	n := len(l.cache)
	if n == 0 {
		return nil
	}
	x := l.cache[n-1]
	l.cache = l.cache[:n-1]
	return x
}

// Put hands x back for a later Get.
func (l *FreeList[T]) Put(x *T) {
	l.mu.Lock()
	l.returned = append(l.returned, x)
	l.mu.Unlock()
}

// Slot is a timed record in flight: its send time, and a callback made once
// per slot that notes its latency. Slots are recycled, so a warm run
// allocates nothing per record.
type Slot struct {
	start int64
	gen   *Gen
	// Callback answers the record when it was sent through kprod.
	Callback producer.Callback
	// Ext is the state another library's driver keeps on the slot (kgo's
	// record and promise); the driver makes it the first time it sees the
	// slot and finds it again on every reuse.
	Ext any
}

// Done notes the answer of the slot's record and frees the slot. Callbacks
// of libraries other than kprod call it.
func (s *Slot) Done(err error) {
	s.gen.tally.Load().Timed(nanotime()-s.start, err)
	s.gen.slots.Put(s)
}

// Gen sends the records of a run and counts their answers in the run's
// Tally. One goroutine runs it; answers may arrive on any.
type Gen struct {
	tally atomic.Pointer[Tally] // set by Run, when nothing is in flight
	slots FreeList[Slot]
	made  int64 // slots made so far; the sending goroutine's
	// Callback answers a record sent through kprod that is not timed.
	Callback producer.Callback
}

// New returns a generator. Keep it across the phases of a run, so the slots
// grown in a warm-up serve the measured part.
func New() *Gen {
	g := &Gen{}
	g.Callback = func(_ producer.RecordMetadata, err error) { g.Count(err) }
	return g
}

// Count notes the answer of a record that is not timed; callbacks of
// libraries other than kprod call it.
func (g *Gen) Count(err error) { g.tally.Load().Count(err) }

// slot returns a free slot stamped with the current time.
func (g *Gen) slot() *Slot {
	s := g.slots.Get()
	if s == nil {
		s = &Slot{gen: g}
		s.Callback = func(_ producer.RecordMetadata, err error) { s.Done(err) }
		g.made++
	}
	s.start = nanotime()
	return s
}

// SlotsMade is how many slots the generator has made; read it on the
// goroutine that runs Run, between runs. A run that times more records at
// once than any before it makes slots, which is the harness's allocation,
// not the library's: SlotCost says what to take off.
func (g *Gen) SlotsMade() int64 { return g.made }

// SlotCost measures what making one slot allocates, in heap objects and
// bytes, by making a thousand on a generator of its own.
func SlotCost() (objects, bytes float64) {
	const n = 1000
	g := New()
	keep := make([]*Slot, 0, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		keep = append(keep, g.slot())
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(after.Mallocs-before.Mallocs) / n, float64(after.TotalAlloc-before.TotalAlloc) / n
}

// Load is how Run sends: how fast, and which records it times.
type Load struct {
	Rate      float64 // records/s; 0 or less sends as fast as the library takes them
	TimeEvery int64   // time one record in this many; 1 or less times all
}

// Run sends t.Records() records, paced by l: record i goes out by
// send(i, s), where s is the slot to answer it through when it is timed and
// nil when it is not. It returns once every record was answered, or with an
// error when ctx ends first.
func (g *Gen) Run(ctx context.Context, t *Tally, l Load, send func(i int64, s *Slot)) error {
	g.tally.Store(t)
	thr := newThrottle(l.Rate, time.Now())
	every := max(l.TimeEvery, 1)
	for i := int64(0); i < t.target; i++ {
		thr.wait(i)
		var s *Slot
		if i%every == 0 {
			s = g.slot()
		}
		send(i, s)
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d records unanswered: %w", t.target-t.answered.Load(), t.target, ctx.Err())
	}
}
