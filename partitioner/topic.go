package partitioner

import (
	"sync"
	"sync/atomic"
)

// StickyTopic is the state a Sticky keeps for one topic, returned by
// Sticky.Topic. Its methods do what the Sticky methods of the same names do,
// without looking the topic up by name. It is safe for concurrent use.
type StickyTopic struct {
	s *Sticky // owner: configuration and random source; set at creation

	// cur packs the current sticky partition and the bytes appended to it
	// since it was chosen (see packWord). Any goroutine reads and replaces it
	// with atomic operations only; the zero value means no partition yet.
	cur atomic.Uint64

	mu    sync.RWMutex       // guards load and marks; read-held while choosing a new partition
	load  loadTable          // queue depths from UpdateLoad; written by the sender goroutine
	marks map[int32]struct{} // partitions reported unavailable through SetUnavailable
}

// packWord encodes a sticky partition and its byte count into one word so
// both change together in a single compare-and-swap. The high half holds
// partition+1, making the zero word mean NoPartition; the low half holds the
// byte count, which stays below BatchSize and so fits in 32 bits.
func packWord(partition int32, bytes uint64) uint64 {
	return uint64(uint32(partition)+1)<<32 | bytes
}

// wordPartition returns the partition encoded by packWord.
func wordPartition(w uint64) int32 {
	return int32(uint32(w>>32) - 1)
}

// wordBytes returns the byte count encoded by packWord.
func wordBytes(w uint64) uint64 {
	return uint64(uint32(w))
}

// maxInstallAttempts bounds how often Partition retries installing a new
// sticky partition when other goroutines keep replacing it first.
const maxInstallAttempts = 8

// Partition is Sticky.Partition for this topic.
func (t *StickyTopic) Partition(numPartitions int, available []int32) int32 {
	if numPartitions < 1 {
		return NoPartition
	}
	n := clampCount(numPartitions)
	for attempt := 1; ; attempt++ {
		w := t.cur.Load()
		p := wordPartition(w)
		if p >= 0 && int(p) < n && isAvailable(available, n, p) {
			return p
		}
		next := t.choose(n, available, p)
		if t.cur.CompareAndSwap(w, packWord(next, 0)) || attempt >= maxInstallAttempts {
			return next
		}
	}
}

// Current is Sticky.Current for this topic.
func (t *StickyTopic) Current() int32 {
	return wordPartition(t.cur.Load())
}

// OnAppend is Sticky.OnAppend for this topic.
func (t *StickyTopic) OnAppend(partition int32, appendedBytes int, batchFull bool, numPartitions int, available []int32) {
	if partition < 0 {
		return
	}
	add := uint64(max(appendedBytes, 0))
	for {
		w := t.cur.Load()
		if wordPartition(w) != partition {
			return
		}
		produced := wordBytes(w) + add
		if produced < t.s.batchSize && !batchFull {
			if t.cur.CompareAndSwap(w, packWord(partition, produced)) {
				return
			}
			continue
		}
		next := NoPartition // with no partitions known, the next Partition call chooses
		if numPartitions >= 1 {
			next = t.choose(clampCount(numPartitions), available, partition)
		}
		if t.cur.CompareAndSwap(w, packWord(next, 0)) {
			return
		}
	}
}

// UpdateLoad is Sticky.UpdateLoad for this topic.
func (t *StickyTopic) UpdateLoad(queueSizes []int32) {
	if !t.s.cfg.Adaptive {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	marks := t.marks
	if !t.s.marksOn {
		marks = nil
	}
	t.load.build(queueSizes, marks)
}

// SetUnavailable is Sticky.SetUnavailable for this topic.
func (t *StickyTopic) SetUnavailable(partition int32, unavailable bool) {
	if !t.s.marksOn || partition < 0 {
		return
	}
	t.mu.Lock()
	if unavailable {
		if t.marks == nil {
			t.marks = make(map[int32]struct{})
		}
		t.marks[partition] = struct{}{}
	} else {
		delete(t.marks, partition)
	}
	t.mu.Unlock()

	if !unavailable {
		return
	}
	// Leave the partition now rather than at the next switch.
	for {
		w := t.cur.Load()
		if wordPartition(w) != partition || t.cur.CompareAndSwap(w, packWord(NoPartition, 0)) {
			return
		}
	}
}
