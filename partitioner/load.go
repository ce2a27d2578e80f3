package partitioner

// loadTable holds the queue-depth weights of one topic for adaptive
// partitioning. It is guarded by the owning StickyTopic's mu.
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
