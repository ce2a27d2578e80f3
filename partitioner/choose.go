package partitioner

import "slices"

// sampleTries is how many random draws choose makes before it falls back to
// an exact weighted scan over all candidates.
const sampleTries = 4

// choose returns the partition a topic switches to, given the partition count
// n (1 <= n <= MaxInt32), the available list passed by the caller and the
// partition being left (prev, possibly NoPartition or out of range).
//
// The preferences, strongest first: a partition in range; one in available;
// one not reported unavailable and not excluded by the load table; one other
// than prev. Among the partitions that satisfy all of them, the choice is
// uniform, or weighted by the load table when adaptive partitioning has one
// for exactly n partitions. Preferences are given up from the weakest only
// when no partition satisfies them all.
func (t *StickyTopic) choose(n int, available []int32, prev int32) int32 {
	t.mu.RLock()
	defer t.mu.RUnlock()

	c := candidates{n: n, prev: prev, randN: t.s.randN}
	if !allAvailable(available, n) {
		c.avail = available
	}
	if t.s.marksOn && len(t.marks) > 0 {
		c.marks = t.marks
	}
	if t.load.active && len(t.load.cum) == n {
		c.cum = t.load.cum
	}

	if p, ok := c.sample(); ok {
		return p
	}
	if p, ok := c.scan(); ok {
		return p
	}
	// Nothing in available is in range: the list is stale. Use all partitions.
	c.avail = nil
	if p, ok := c.scan(); ok {
		return p
	}
	return 0 // unreachable for n >= 1; kept so that no input can panic
}

// candidates describes the partitions one switch may choose from.
type candidates struct {
	n     int                 // partition count, in [1, MaxInt32]
	avail []int32             // partitions with a leader; nil means all of 0..n-1
	prev  int32               // partition being left
	marks map[int32]struct{}  // partitions reported unavailable; nil if none or not honored
	cum   []int64             // cumulative load weights indexed by partition; nil for uniform
	randN func(uint64) uint64 // uniform random source
}

// size is the number of entries in the candidate list.
func (c *candidates) size() int {
	if c.avail == nil {
		return c.n
	}
	return len(c.avail)
}

// at returns entry i of the candidate list.
func (c *candidates) at(i int) int32 {
	if c.avail == nil {
		return int32(i)
	}
	return c.avail[i]
}

// weight returns how strongly p should be preferred: 0 means not at all.
// strict applies the unavailability marks and the load table; allowPrev
// admits the partition being left.
func (c *candidates) weight(p int32, strict, allowPrev bool) int64 {
	if p < 0 || int(p) >= c.n || (p == c.prev && !allowPrev) {
		return 0
	}
	if !strict {
		return 1
	}
	if _, marked := c.marks[p]; marked {
		return 0
	}
	if c.cum == nil {
		return 1
	}
	if p == 0 {
		return c.cum[0]
	}
	return c.cum[p] - c.cum[p-1]
}

// sample draws a few random candidates with the right distribution and
// returns the first that satisfies every preference. Rejecting draws keeps
// the distribution right among the accepted ones, and a draw costs O(log n),
// so the common switch never scans all partitions.
func (c *candidates) sample() (int32, bool) {
	for range sampleTries {
		var p int32
		if c.cum != nil {
			total := c.cum[len(c.cum)-1]
			if total <= 0 {
				return 0, false
			}
			// The first partition whose cumulative weight exceeds r.
			r := int64(c.randN(uint64(total)))
			i, _ := slices.BinarySearch(c.cum, r+1)
			p = int32(i)
			if c.avail != nil && !contains(c.avail, p) {
				continue
			}
		} else {
			p = c.at(int(c.randN(uint64(c.size()))))
		}
		if c.weight(p, true, false) > 0 {
			return p, true
		}
	}
	return 0, false
}

// scan chooses exactly, by walking the whole candidate list, giving up
// preferences one level at a time until some candidate has a weight.
func (c *candidates) scan() (int32, bool) {
	levels := [...]struct{ strict, allowPrev bool }{
		{true, false},  // every preference
		{true, true},   // stay on prev if it is the only good partition
		{false, false}, // all partitions are marked or excluded: ignore that
		{false, true},  // prev is the only partition in range
	}
	for _, l := range levels {
		var total int64
		for i := range c.size() {
			total += c.weight(c.at(i), l.strict, l.allowPrev)
		}
		if total <= 0 {
			continue
		}
		r := int64(c.randN(uint64(total)))
		for i := range c.size() {
			p := c.at(i)
			w := c.weight(p, l.strict, l.allowPrev)
			if r < w {
				return p, true
			}
			r -= w
		}
	}
	return 0, false
}
