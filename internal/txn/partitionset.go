package txn

import (
	"cmp"
	"slices"
)

// PartitionSet is a set of topic partitions: those already added to the
// open transaction, or those waiting to be. The zero value is an empty
// set ready to use. Has does not allocate, so the sender may ask it for
// every batch; Reset keeps the memory for the next transaction.
//
// A PartitionSet is not safe for concurrent use; its owner (the sender
// goroutine) guards it.
type PartitionSet struct {
	topics map[string]map[int32]struct{}
	n      int
}

// Has reports whether the set holds the partition.
func (s *PartitionSet) Has(topic string, partition int32) bool {
	_, ok := s.topics[topic][partition]
	return ok
}

// Add puts the partition in the set and reports whether it was new.
func (s *PartitionSet) Add(topic string, partition int32) bool {
	if s.topics == nil {
		s.topics = make(map[string]map[int32]struct{})
	}
	ps := s.topics[topic]
	if ps == nil {
		ps = make(map[int32]struct{})
		s.topics[topic] = ps
	}
	if _, ok := ps[partition]; ok {
		return false
	}
	ps[partition] = struct{}{}
	s.n++
	return true
}

// AddAll puts every partition of parts (topic → partitions) in the set.
func (s *PartitionSet) AddAll(parts map[string][]int32) {
	for t, ps := range parts {
		for _, p := range ps {
			s.Add(t, p)
		}
	}
}

// Remove takes the partition out of the set and reports whether it was
// there.
func (s *PartitionSet) Remove(topic string, partition int32) bool {
	ps := s.topics[topic]
	if _, ok := ps[partition]; !ok {
		return false
	}
	delete(ps, partition)
	s.n--
	return true
}

// Len returns the number of partitions in the set.
func (s *PartitionSet) Len() int { return s.n }

// Map returns the set as topic → partitions, partitions in ascending
// order: the shape AddPartitions takes. It is a copy.
func (s *PartitionSet) Map() map[string][]int32 {
	out := make(map[string][]int32, len(s.topics))
	for t, ps := range s.topics {
		if len(ps) == 0 {
			continue
		}
		list := make([]int32, 0, len(ps))
		for p := range ps {
			list = append(list, p)
		}
		slices.Sort(list)
		out[t] = list
	}
	return out
}

// Reset empties the set, keeping its memory.
func (s *PartitionSet) Reset() {
	for _, ps := range s.topics {
		clear(ps)
	}
	s.n = 0
}

// topicPartitions is one topic's partitions, for building requests.
type topicPartitions struct {
	topic      string
	partitions []int32
}

// sorted returns the set's non-empty topics in name order, each with its
// partitions in ascending order, so requests are deterministic.
func (s *PartitionSet) sorted() []topicPartitions {
	out := make([]topicPartitions, 0, len(s.topics))
	for t, ps := range s.Map() {
		out = append(out, topicPartitions{t, ps})
	}
	slices.SortFunc(out, func(a, b topicPartitions) int { return cmp.Compare(a.topic, b.topic) })
	return out
}
