package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/producer"
)

// clockBase anchors nanotime.
var clockBase = time.Now()

// nanotime is monotonic nanoseconds since the process started.
func nanotime() int64 { return int64(time.Since(clockBase)) }

// tally counts the answers of one phase of a run (warm-up or measured).
type tally struct {
	target   int64
	done     chan struct{} // closed when target records were answered
	answered atomic.Int64
	errors   atomic.Int64
	latMax   atomic.Int64 // ns, of the sampled records
	firstErr atomic.Pointer[error]
	hist     histogram // latencies of the sampled records
}

func newTally(target int64) *tally { return &tally{target: target, done: make(chan struct{})} }

// count notes one answered record.
func (t *tally) count(err error) {
	if err != nil {
		t.fail(err)
	}
	if t.answered.Add(1) == t.target {
		close(t.done)
	}
}

// sampled notes one answered record whose latency was measured.
func (t *tally) sampled(lat int64, err error) {
	for {
		cur := t.latMax.Load()
		if lat <= cur || t.latMax.CompareAndSwap(cur, lat) {
			break
		}
	}
	t.hist.Record(lat)
	t.count(err)
}

// fail is apart from count so that only a failure moves err to the heap.
func (t *tally) fail(err error) {
	t.errors.Add(1)
	if t.firstErr.Load() == nil {
		t.firstErr.CompareAndSwap(nil, &err)
	}
}

// phase is the tally answers count toward; it changes between the warm-up
// and the measured phase, when nothing is in flight.
type phase struct{ atomic.Pointer[tally] }

// freeList recycles objects between the one sending goroutine (get) and the
// callback goroutines (put). get takes from a private cache that is refilled
// a whole batch at a time, so the two sides rarely meet on the lock.
type freeList[T any] struct {
	cache    []*T // sending goroutine only
	mu       sync.Mutex
	returned []*T // guarded by mu
}

// get returns a recycled object, or nil when there is none.
func (l *freeList[T]) get() *T {
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

func (l *freeList[T]) put(x *T) {
	l.mu.Lock()
	l.returned = append(l.returned, x)
	l.mu.Unlock()
}

// slot is a sampled record in flight: its send time and the callbacks (one
// per library, made once per slot) that note its latency. Slots are
// recycled, so the harness allocates nothing per record once warm.
type slot struct {
	start      int64
	h          *harness
	kprodCB    producer.Callback
	kgoRec     *kgo.Record // kgo keeps the record until its promise runs; made by the kgo driver only, so kprod's slots do not carry it
	kgoPromise func(*kgo.Record, error)
}

func (s *slot) finish(err error) {
	s.h.phase.Load().sampled(nanotime()-s.start, err)
	s.h.slots.put(s)
}

// harness is the per-record machinery shared by the drivers: latency
// samples, and plain callbacks for the records not sampled.
type harness struct {
	phase phase
	slots freeList[slot]
	// kgoRecs recycles the records kgo was handed (kgo keeps each until its
	// promise); kprod copies on Send, so its driver reuses one Record.
	kgoRecs freeList[kgo.Record]

	kprodCB    producer.Callback        // for records not sampled
	kgoPromise func(*kgo.Record, error) // for records not sampled
}

func newHarness() *harness {
	h := &harness{}
	h.kprodCB = func(_ producer.RecordMetadata, err error) { h.phase.Load().count(err) }
	h.kgoPromise = func(r *kgo.Record, err error) {
		h.phase.Load().count(err)
		h.kgoRecs.put(r)
	}
	return h
}

// slot returns a free slot stamped with the current time.
func (h *harness) slot() *slot {
	s := h.slots.get()
	if s == nil {
		s = &slot{h: h}
		s.kprodCB = func(_ producer.RecordMetadata, err error) { s.finish(err) }
		s.kgoPromise = func(_ *kgo.Record, err error) { s.finish(err) }
	}
	s.start = nanotime()
	return s
}

// kgoRecord returns a recycled (or new) kgo record.
func (h *harness) kgoRecord() *kgo.Record {
	if r := h.kgoRecs.get(); r != nil {
		return r
	}
	return new(kgo.Record)
}
