package partitioner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Sticky is the built-in "uniform sticky" partitioner for records without a
// key: all keyless records of a topic go to one partition until about
// BatchSize bytes have been appended to it, then it switches to another, so
// that keyless traffic fills whole batches instead of many small ones.
//
// With Adaptive on, the next partition is drawn at random weighted by inverse
// queue depth (see UpdateLoad), so partitions whose brokers keep up get more
// data, and partitions reported unavailable (see SetUnavailable) are skipped.
// A new partition differs from the previous one whenever another candidate
// exists.
//
// One Sticky serves all topics of a producer. It is safe for concurrent use;
// Partition and OnAppend take no lock and do not allocate once a topic has
// been seen, except when they switch partitions, which reads the topic's load
// table under a read lock.
type Sticky struct {
	cfg       StickyConfig // as normalized by NewSticky
	batchSize uint64       // bytes after which the sticky partition switches, in [1, MaxInt32]
	marksOn   bool         // SetUnavailable is honored: Adaptive and AvailabilityTimeout > 0
	topics    registry[stickyTopic]

	// randN returns a uniform random number in [0, n) for n > 0. It must be
	// safe for concurrent use. Tests replace it with a seeded source.
	randN func(n uint64) uint64
}

// StickyConfig configures a Sticky partitioner. The zero value is usable: it
// switches after every record and does no adaptive partitioning.
type StickyConfig struct {
	// BatchSize is how many bytes go to the current partition before the
	// partitioner switches: the producer's batch.size (Java default 16384).
	// Values below 1 are treated as 1, as the Java client does.
	BatchSize int
	// Adaptive turns on adaptive partitioning, the
	// partitioner.adaptive.partitioning.enable setting (Java default true):
	// the next partition is chosen weighted by inverse queue depth.
	Adaptive bool
	// AvailabilityTimeout is partitioner.availability.timeout.ms (Java
	// default 0, off). When it is positive and Adaptive is on, partitions
	// the producer reports through SetUnavailable are skipped. The sender
	// measures the time; the partitioner only honors its reports.
	AvailabilityTimeout time.Duration
}

// Validate reports a configuration value that has no meaning, wrapping
// ErrInvalidConfig. NewSticky accepts any value, so producers call Validate
// with their other options to tell users about mistakes.
func (c StickyConfig) Validate() error {
	if c.BatchSize < 0 {
		return fmt.Errorf("%w: batch size %d is negative", ErrInvalidConfig, c.BatchSize)
	}
	if c.AvailabilityTimeout < 0 {
		return fmt.Errorf("%w: availability timeout %v is negative", ErrInvalidConfig, c.AvailabilityTimeout)
	}
	return nil
}

// stickyTopic is the state a Sticky keeps per topic.
type stickyTopic struct {
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

// NewSticky returns a Sticky partitioner with the given configuration. Out of
// range values are normalized rather than refused (see StickyConfig and
// StickyConfig.Validate).
func NewSticky(cfg StickyConfig) *Sticky {
	cfg.BatchSize = max(cfg.BatchSize, 1)
	cfg.BatchSize = min(cfg.BatchSize, math.MaxInt32)
	cfg.AvailabilityTimeout = max(cfg.AvailabilityTimeout, 0)
	return &Sticky{
		cfg:       cfg,
		batchSize: uint64(cfg.BatchSize),
		marksOn:   cfg.Adaptive && cfg.AvailabilityTimeout > 0,
		randN:     rand.Uint64N,
	}
}

// Config returns the configuration in effect, after normalization.
func (s *Sticky) Config() StickyConfig {
	return s.cfg
}

// Partition returns the current sticky partition for topic, choosing one the
// first time and whenever the current one is out of range or not available.
//
// available lists the partitions that currently have a leader; nil or empty
// means all of 0..numPartitions-1. A list sorted ascending is checked fastest.
// The result is always in [0, numPartitions), or NoPartition if
// numPartitions is less than 1.
func (s *Sticky) Partition(topic string, numPartitions int, available []int32) int32 {
	if numPartitions < 1 {
		return NoPartition
	}
	n := clampCount(numPartitions)
	t := s.topics.get(topic)
	for attempt := 1; ; attempt++ {
		w := t.cur.Load()
		p := wordPartition(w)
		if p >= 0 && int(p) < n && isAvailable(available, n, p) {
			return p
		}
		next := s.choose(t, n, available, p)
		if t.cur.CompareAndSwap(w, packWord(next, 0)) || attempt >= maxInstallAttempts {
			return next
		}
	}
}

// Current returns the sticky partition of topic as it stands, or NoPartition
// if none has been chosen yet. A producer can call it while holding the lock
// of the partition's queue to check that no other goroutine switched the
// partition between Partition and the append.
func (s *Sticky) Current(topic string) int32 {
	return wordPartition(s.topics.get(topic).cur.Load())
}

// OnAppend tells the partitioner that appendedBytes were appended to
// partition of topic. When the bytes appended to the current sticky partition
// reach BatchSize, or batchFull is true (the accumulator just closed a full
// batch for it), it switches to a new partition for later records, chosen
// with numPartitions and available as in Partition. Calls for a partition
// that is no longer the current one are ignored.
func (s *Sticky) OnAppend(topic string, partition int32, appendedBytes int, batchFull bool, numPartitions int, available []int32) {
	if partition < 0 {
		return
	}
	add := uint64(max(appendedBytes, 0))
	t := s.topics.get(topic)
	for {
		w := t.cur.Load()
		if wordPartition(w) != partition {
			return
		}
		produced := wordBytes(w) + add
		if produced < s.batchSize && !batchFull {
			if t.cur.CompareAndSwap(w, packWord(partition, produced)) {
				return
			}
			continue
		}
		next := NoPartition // with no partitions known, the next Partition call chooses
		if numPartitions >= 1 {
			next = s.choose(t, clampCount(numPartitions), available, partition)
		}
		if t.cur.CompareAndSwap(w, packWord(next, 0)) {
			return
		}
	}
}
