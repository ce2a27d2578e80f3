package loadgen

import (
	"math/bits"
	"sync/atomic"
)

// subBits sets the histogram's precision: each power of two is cut into
// 1<<subBits buckets, so a bucket's width is at most 1/32 of its values.
const subBits = 5

// numBuckets covers every non-negative int64.
const numBuckets = (64 - subBits) << subBits

// histogram counts latencies in nanoseconds in log-linear buckets. Record is
// lock-free and allocation-free; Quantile may run while records arrive.
type histogram struct {
	counts [numBuckets]atomic.Int64
}

// bucketOf is the bucket holding v (negative values count as 0).
func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)<<subBits + int(uint64(v)>>shift) - 1<<subBits
}

// bucketBounds is the range [lo, hi] of the values in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 1<<subBits {
		return int64(i), int64(i)
	}
	shift := i>>subBits - 1
	mant := int64(i&(1<<subBits-1)) + 1<<subBits
	lo = mant << shift
	return lo, lo + (1 << shift) - 1
}

// Record counts one value.
func (h *histogram) Record(v int64) { h.counts[bucketOf(v)].Add(1) }

// Quantile is the value at quantile q (0 < q ≤ 1) of what was recorded: the
// middle of the bucket that holds it, so within 1/64 of the true value. It
// is 0 when nothing was recorded.
func (h *histogram) Quantile(q float64) int64 {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)/2
		}
	}
	lo, hi := bucketBounds(numBuckets - 1)
	return lo + (hi-lo)/2
}
