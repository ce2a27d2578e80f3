package partitioner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/kprod/kprod/internal/registry"
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
// One Sticky serves all topics of a producer; its methods find the topic's
// state by name. A producer that keeps its own per-topic state can hold the
// StickyTopic returned by Topic instead and skip the lookup. The state of a
// topic (a few hundred bytes) is kept for the life of the Sticky.
//
// It is safe for concurrent use. Partition and OnAppend do not allocate once
// a topic has been seen, and take no lock once its entry is established (soon
// after it is first seen: the lock-free topic map is republished once the
// lookups that missed it number as many as the topics it holds); only a
// switch to a new partition reads the topic's load table under a read lock.
type Sticky struct {
	cfg       StickyConfig // as normalized by NewSticky
	batchSize uint64       // bytes after which the sticky partition switches, in [1, MaxInt32]
	marksOn   bool         // SetUnavailable is honored: Adaptive and AvailabilityTimeout > 0
	topics    registry.Map[StickyTopic]

	// randN returns a uniform random number in [0, n) for n > 0. It must be
	// safe for concurrent use. Tests replace it with a seeded source.
	randN func(n uint64) uint64
}

// StickyConfig configures a Sticky partitioner. The zero value is usable: it
// switches after every record and does no adaptive partitioning.
type StickyConfig struct {
	// BatchSize is how many bytes go to the current partition before the
	// partitioner switches: the producer's batch.size (Java default 16384).
	// Values below 1 are treated as 1, as the Java client does, and values
	// above MaxInt32 as MaxInt32.
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

// NewSticky returns a Sticky partitioner with the given configuration. Out of
// range values are normalized rather than refused (see StickyConfig and
// StickyConfig.Validate).
func NewSticky(cfg StickyConfig) *Sticky {
	cfg.BatchSize = min(max(cfg.BatchSize, 1), math.MaxInt32)
	cfg.AvailabilityTimeout = max(cfg.AvailabilityTimeout, 0)
	s := &Sticky{
		cfg:       cfg,
		batchSize: uint64(cfg.BatchSize),
		marksOn:   cfg.Adaptive && cfg.AvailabilityTimeout > 0,
		randN:     rand.Uint64N,
	}
	s.topics.Create = func(string) *StickyTopic { return &StickyTopic{s: s} }
	return s
}

// Config returns the configuration in effect, after normalization.
func (s *Sticky) Config() StickyConfig {
	return s.cfg
}

// Topic returns the state the partitioner keeps for topic, creating it the
// first time. The same topic always yields the same *StickyTopic, whose
// methods behave as the Sticky methods of the same names for that topic.
func (s *Sticky) Topic(topic string) *StickyTopic {
	return s.topics.Get(topic)
}

// Partition returns the current sticky partition for topic, choosing one the
// first time and whenever the current one is out of range or not available.
//
// available lists the partitions that currently have a leader; nil or empty
// means all of 0..numPartitions-1. A list sorted ascending is checked fastest.
// The result is always in [0, numPartitions), or NoPartition if
// numPartitions is less than 1.
func (s *Sticky) Partition(topic string, numPartitions int, available []int32) int32 {
	return s.topics.Get(topic).Partition(numPartitions, available)
}

// OnAppend tells the partitioner that appendedBytes were appended to
// partition of topic. When the bytes appended to the current sticky partition
// reach BatchSize, or batchFull is true (the accumulator just closed a full
// batch for it), it switches to a new partition for later records, chosen
// with numPartitions and available as in Partition. Calls for a partition
// that is no longer the current one are ignored.
func (s *Sticky) OnAppend(topic string, partition int32, appendedBytes int, batchFull bool, numPartitions int, available []int32) {
	s.topics.Get(topic).OnAppend(partition, appendedBytes, batchFull, numPartitions, available)
}

// Current returns the sticky partition of topic as it stands, or NoPartition
// if none has been chosen yet. A producer can call it while holding the lock
// of the partition's queue to check that no other goroutine switched the
// partition between Partition and the append.
func (s *Sticky) Current(topic string) int32 {
	return s.topics.Get(topic).Current()
}

// UpdateLoad gives the queue depth (for example the number of batches
// waiting) of every partition of topic, indexed by partition number. It is
// used only when Adaptive is on; otherwise it does nothing.
//
// The partitioner keeps its own copy as a cumulative frequency table in which
// a partition weighs maxQueue+1-depth, so the shortest queues get the most
// new data. A negative depth excludes a partition (for example one without a
// leader), and so does a report through SetUnavailable that stands when the
// table is built. The table is used while its length equals the partition count
// passed to Partition or OnAppend. With fewer than two partitions, or all
// depths equal, the choice is uniform.
//
// The producer's sender calls it about once per drain. It allocates only when
// the partition count grows, and never keeps queueSizes.
func (s *Sticky) UpdateLoad(topic string, queueSizes []int32) {
	if !s.cfg.Adaptive {
		return
	}
	s.topics.Get(topic).UpdateLoad(queueSizes)
}

// SetUnavailable reports that the leader of partition of topic has not
// accepted data for longer than AvailabilityTimeout (unavailable true), or
// accepts data again (false). Unavailable partitions are skipped when the
// partitioner switches, unless all partitions are; if the current sticky
// partition becomes unavailable, the next Partition call chooses anew.
//
// Reports count only when Adaptive is on and AvailabilityTimeout is positive,
// as in the Java client; otherwise SetUnavailable does nothing.
func (s *Sticky) SetUnavailable(topic string, partition int32, unavailable bool) {
	if !s.marksOn || partition < 0 {
		return
	}
	s.topics.Get(topic).SetUnavailable(partition, unavailable)
}
