package partitioner

// loadTable holds the queue-depth weights of one topic for adaptive
// partitioning. It is guarded by the owning stickyTopic's mu.
type loadTable struct {
	// cum[p] is the sum of the weights of partitions 0..p, where a partition
	// with queue depth q weighs maxQueue+1-q and an excluded one weighs 0.
	// A random number in [0, cum[len-1]) then falls on partition p with a
	// probability proportional to its weight.
	cum []int64
	// active is false when the table should not be used: fewer than two
	// partitions, every partition excluded, or all depths equal with none
	// excluded (uniform choice does the same job faster).
	active bool
}

// build rebuilds the table from queue depths indexed by partition. Negative
// depths and partitions in marks are excluded. It reuses the table's memory
// unless the partition count grew.
func (lt *loadTable) build(queueSizes []int32, marks map[int32]struct{}) {
	lt.active = false
	n := len(queueSizes)
	if n < 2 {
		lt.cum = lt.cum[:0]
		return
	}

	var maxQueue, first int64 = -1, -1
	included, allEqual := 0, true
	for p, q := range queueSizes {
		if excluded(p, q, marks) {
			continue
		}
		included++
		if first < 0 {
			first = int64(q)
		} else if int64(q) != first {
			allEqual = false
		}
		maxQueue = max(maxQueue, int64(q))
	}
	if included == 0 || (allEqual && included == n) {
		lt.cum = lt.cum[:0]
		return
	}

	if cap(lt.cum) < n {
		lt.cum = make([]int64, n)
	}
	lt.cum = lt.cum[:n]
	var sum int64
	for p, q := range queueSizes {
		if !excluded(p, q, marks) {
			sum += maxQueue + 1 - int64(q)
		}
		lt.cum[p] = sum
	}
	lt.active = true
}

// excluded reports whether partition p with queue depth q takes no part in
// adaptive choice.
func excluded(p int, q int32, marks map[int32]struct{}) bool {
	if q < 0 {
		return true
	}
	_, marked := marks[int32(p)]
	return marked
}

// UpdateLoad gives the queue depth (for example the number of batches
// waiting) of every partition of topic, indexed by partition number. It is
// used only when Adaptive is on; otherwise it does nothing.
//
// The partitioner keeps its own copy as a cumulative frequency table in which
// a partition weighs maxQueue+1-depth, so the shortest queues get the most
// new data. A negative depth excludes a partition (for example one without a
// leader). The table is used while its length equals the partition count
// passed to Partition or OnAppend. With fewer than two partitions, or all
// depths equal, the choice is uniform.
//
// The producer's sender calls it about once per drain. It allocates only when
// the partition count grows, and never keeps queueSizes.
func (s *Sticky) UpdateLoad(topic string, queueSizes []int32) {
	if !s.cfg.Adaptive {
		return
	}
	t := s.topics.get(topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	marks := t.marks
	if !s.marksOn {
		marks = nil
	}
	t.load.build(queueSizes, marks)
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
	t := s.topics.get(topic)
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
	for {
		w := t.cur.Load()
		if wordPartition(w) != partition || t.cur.CompareAndSwap(w, packWord(NoPartition, 0)) {
			return
		}
	}
}
