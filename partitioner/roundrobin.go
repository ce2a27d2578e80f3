package partitioner

import (
	"sync/atomic"

	"github.com/kprod/kprod/internal/registry"
)

// roundRobin cycles through the partitions of each topic, one per call.
type roundRobin struct {
	counters registry.Map[atomic.Uint64] // calls so far, per topic
}

// NewRoundRobin returns a Partitioner that gives each record of a topic the
// next partition in turn (a counter per topic), ignoring keys. It implements
// AvailabilityAware: given an available list it cycles through that list
// only, so no record waits on a partition without a leader.
func NewRoundRobin() Partitioner {
	return &roundRobin{}
}

// Partition returns the next partition of topic in turn.
func (r *roundRobin) Partition(topic string, key, value []byte, numPartitions int) int32 {
	return r.PartitionAvailable(topic, key, value, numPartitions, nil)
}

// PartitionAvailable returns the next partition of topic in turn among the
// available ones (all of them if available is nil or empty).
func (r *roundRobin) PartitionAvailable(topic string, _, _ []byte, numPartitions int, available []int32) int32 {
	if numPartitions < 1 {
		return NoPartition
	}
	n := uint64(clampCount(numPartitions))
	i := r.counters.Get(topic).Add(1) - 1
	if len(available) > 0 {
		if p := available[i%uint64(len(available))]; p >= 0 && uint64(p) < n {
			return p
		}
	}
	return int32(i % n)
}

// hashPartitioner places keyed records by KeyPartition and round-robins the
// records without a key.
type hashPartitioner struct {
	rr roundRobin
}

// Hash returns a Partitioner that places a record with a key (any non-nil
// key, empty ones included) by KeyPartition, over all partitions, and gives
// records with a nil key the partitions of their topic in turn. It suits users
// who want plain keyed placement without stickiness. It implements
// AvailabilityAware; the available list affects only records without a key.
func Hash() Partitioner {
	return &hashPartitioner{}
}

// Partition places the record by its key, or in turn if the key is nil.
func (h *hashPartitioner) Partition(topic string, key, value []byte, numPartitions int) int32 {
	return h.PartitionAvailable(topic, key, value, numPartitions, nil)
}

// PartitionAvailable places the record by its key, or in turn among the
// available partitions if the key is nil.
func (h *hashPartitioner) PartitionAvailable(topic string, key, value []byte, numPartitions int, available []int32) int32 {
	if key != nil {
		return KeyPartition(key, numPartitions)
	}
	return h.rr.PartitionAvailable(topic, key, value, numPartitions, available)
}
