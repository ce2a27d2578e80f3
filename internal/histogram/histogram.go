// Package histogram counts latencies (non-negative int64 nanoseconds) in
// log-linear buckets: each power of two is cut into 32 buckets, so a
// bucket is at most 1/32 of its values wide. It is the one latency
// histogram of the module: the producer's send→ack figures and the perf
// tools' use it.
package histogram

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// subBits sets the precision: each power of two is cut into 1<<subBits buckets.
const subBits = 5

// numBuckets covers every non-negative int64.
const numBuckets = (64 - subBits) << subBits

// H is a histogram. Record is lock-free and allocation-free; the readers may
// run while values arrive. The zero value is empty and ready.
type H struct {
	counts [numBuckets]atomic.Int64
	max    atomic.Int64
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
func (h *H) Record(v int64) {
	h.counts[bucketOf(v)].Add(1)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			return
		}
	}
}

// RecordAll counts val(i) for every i in [0, n), with one atomic add per
// run of values that fall in the same bucket and one max update: the cheap
// way to record a batch whose values are close together (the records of
// one produce batch answered at once).
func (h *H) RecordAll(n int, val func(i int) int64) {
	if n <= 0 {
		return
	}
	top := val(0)
	run, count := bucketOf(top), int64(1)
	for i := 1; i < n; i++ {
		v := val(i)
		top = max(top, v)
		if b := bucketOf(v); b != run {
			h.counts[run].Add(count)
			run, count = b, 0
		}
		count++
	}
	h.counts[run].Add(count)
	for {
		cur := h.max.Load()
		if top <= cur || h.max.CompareAndSwap(cur, top) {
			return
		}
	}
}

// Max is the largest value recorded (0 when none).
func (h *H) Max() int64 { return h.max.Load() }

// Bucket returns the bounds [lo, hi] of the bucket holding quantile q
// (0 < q ≤ 1) of what was recorded; ok is false when nothing was.
func (h *H) Bucket(q float64) (lo, hi int64, ok bool) {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0, 0, false
	}
	rank := min(max(int64(math.Ceil(q*float64(total))), 1), total)
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			lo, hi = bucketBounds(i)
			return lo, hi, true
		}
	}
	lo, hi = bucketBounds(numBuckets - 1)
	return lo, hi, true
}

// Mid is quantile q as the middle of its bucket: within 1/64 of the true
// value. 0 when nothing was recorded.
func (h *H) Mid(q float64) int64 {
	lo, hi, ok := h.Bucket(q)
	if !ok {
		return 0
	}
	return lo + (hi-lo)/2
}

// Upper is quantile q as the top of its bucket, capped at the largest
// value: never below the true value, never above Max. 0 when nothing was
// recorded.
func (h *H) Upper(q float64) int64 {
	_, hi, ok := h.Bucket(q)
	if !ok {
		return 0
	}
	return min(hi, h.Max())
}
