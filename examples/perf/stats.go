package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/producer"
)

// clockBase anchors nanotime.
var clockBase = time.Now()

// nanotime is monotonic nanoseconds since the program started.
func nanotime() int64 { return int64(time.Since(clockBase)) }

// stats gathers the outcome of every record. Callbacks write it (on the
// producer's callback goroutine, or on the sending goroutine when a record is
// refused at once); the progress reporter and the summary read it.
type stats struct {
	target int64         // records the run sends
	done   chan struct{} // closed when target records were answered

	answered atomic.Int64
	errors   atomic.Int64
	latSum   atomic.Int64 // ns
	latMax   atomic.Int64 // ns
	winMax   atomic.Int64 // ns, largest since the last progress line
	firstErr atomic.Pointer[error]
	hist     histogram
}

func newStats(target int64) *stats {
	return &stats{target: target, done: make(chan struct{})}
}

// record counts one answered record with its send→callback latency.
func (s *stats) record(lat int64, err error) {
	if err != nil {
		s.fail(err)
	}
	s.latSum.Add(lat)
	raise(&s.latMax, lat)
	raise(&s.winMax, lat)
	s.hist.Record(lat)
	if s.answered.Add(1) == s.target {
		close(s.done)
	}
}

// fail counts a failed record and keeps the first error. It is apart from
// record so that only failures move an error to the heap.
func (s *stats) fail(err error) {
	s.errors.Add(1)
	if s.firstErr.Load() == nil {
		s.firstErr.CompareAndSwap(nil, &err)
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

// slot carries one in-flight record's send time to its callback. Slots are
// recycled through a free list, so a steady run allocates nothing per record:
// the callback is a method value made once per slot.
type slot struct {
	start int64
	list  *slotList
	cb    producer.Callback
}

func (s *slot) done(_ producer.RecordMetadata, err error) {
	s.list.st.record(nanotime()-s.start, err)
	s.list.put(s)
}

// slotList is the free list of slots; it grows to the most records in
// flight. get is for the one sending goroutine and takes from a private
// cache, refilled a whole batch at a time from what put returned, so the
// sender and the callbacks rarely meet on the lock.
type slotList struct {
	st       *stats
	cache    []*slot // sending goroutine only
	mu       sync.Mutex
	returned []*slot // guarded by mu
}

// get returns a free slot stamped with the current time.
func (l *slotList) get() *slot {
	if len(l.cache) == 0 {
		l.mu.Lock()
		l.cache, l.returned = l.returned, l.cache[:0]
		l.mu.Unlock()
	}
	var s *slot
	if n := len(l.cache); n > 0 {
		s = l.cache[n-1]
		l.cache = l.cache[:n-1]
	} else {
		s = &slot{list: l}
		s.cb = s.done
	}
	s.start = nanotime()
	return s
}

func (l *slotList) put(s *slot) {
	l.mu.Lock()
	l.returned = append(l.returned, s)
	l.mu.Unlock()
}

// progress prints a line per interval about the records answered in it,
// until stop is closed.
func (s *stats) progress(w io.Writer, interval time.Duration, recordSize int, stop <-chan struct{}) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastSum, lastAt := int64(0), int64(0), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n, sum := s.answered.Load(), s.latSum.Load()
			secs := now.Sub(lastAt).Seconds()
			win := n - last
			avg := 0.0
			if win > 0 {
				avg = float64(sum-lastSum) / float64(win) / 1e6
			}
			fmt.Fprintf(w, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency\n",
				win, float64(win)/secs, float64(win)*float64(recordSize)/secs/(1<<20), avg, float64(s.winMax.Swap(0))/1e6)
			last, lastSum, lastAt = n, sum, now
		}
	}
}

// summary is the final line of a run, in the one format scripts parse.
func (s *stats) summary(records int64, recordSize int, elapsed time.Duration) string {
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	n := s.answered.Load()
	bytes := records * int64(recordSize)
	avg := 0.0
	if n > 0 {
		avg = float64(s.latSum.Load()) / float64(n) / 1e6
	}
	return fmt.Sprintf("records=%d bytes=%d seconds=%.3f records_per_sec=%.1f mb_per_sec=%.2f "+
		"latency_avg_ms=%.3f latency_p50_ms=%.3f latency_p99_ms=%.3f latency_max_ms=%.3f errors=%d",
		records, bytes, secs, float64(records)/secs, float64(bytes)/secs/(1<<20),
		avg, float64(s.hist.Quantile(0.50))/1e6, float64(s.hist.Quantile(0.99))/1e6,
		float64(s.latMax.Load())/1e6, s.errors.Load()+records-n)
}
