package histogram

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{-5, 0, 1, 31, 32, 33, 63, 64, 65, 100, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i < prev || i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d: out of range or order (previous %d)", v, i, prev)
		}
		prev = i
		lo, hi := bucketBounds(i)
		if w := max(v, 0); w < lo || w > hi {
			t.Errorf("bucketOf(%d) = %d with bounds [%d, %d]: value outside", v, i, lo, hi)
		}
		if float64(hi-lo) > float64(lo)/32 {
			t.Errorf("bucket %d [%d, %d] wider than 1/32 of its values", i, lo, hi)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h H
	if q := h.Mid(0.5); q != 0 {
		t.Fatalf("empty histogram: p50 = %d, want 0", q)
	}
	for v := int64(1); v <= 100_000; v++ {
		h.Record(v * 1000) // 1µs … 100ms
	}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 50_000_000}, {0.99, 99_000_000}, {1, 100_000_000}, {0.00001, 1000}} {
		got := h.Mid(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 1.0/32 || diff < -1.0/32 {
			t.Errorf("Quantile(%v) = %d, want %d ± 1/32", tc.q, got, tc.want)
		}
	}
}

// TestUpper: the upper estimate never understates and never passes Max.
func TestUpper(t *testing.T) {
	var h H
	if h.Upper(0.5) != 0 || h.Max() != 0 {
		t.Fatal("empty histogram: nonzero figures")
	}
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * int64(time.Microsecond))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := time.Duration(h.Upper(tc.q))
		if got < tc.want || got > tc.want*33/32 {
			t.Errorf("Upper(%v) = %v, want %v to %v", tc.q, got, tc.want, tc.want*33/32)
		}
	}
	if time.Duration(h.Max()) != time.Millisecond {
		t.Errorf("max %v", time.Duration(h.Max()))
	}
}

// FuzzHistogram checks every value lands in a bucket whose bounds hold it,
// and that quantiles of one value come back within 1/64 of it.
func FuzzHistogram(f *testing.F) {
	for _, v := range []int64{0, 1, 31, 32, 63, 64, 1000, 1 << 40, 1<<63 - 1, -1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, numBuckets)
		}
		w := max(v, 0)
		lo, hi := bucketBounds(i)
		if w < lo || w > hi {
			t.Fatalf("bucketOf(%d) = %d has bounds [%d, %d]", v, i, lo, hi)
		}
		var h H
		h.Record(v)
		q := h.Mid(0.5)
		if d := float64(q) - float64(w); d > float64(w)/64+1 || d < -float64(w)/64-1 {
			t.Fatalf("single value %d: median %d", v, q)
		}
	})
}

// TestRecordAll: a batch recorded at once counts as its values one by one.
func TestRecordAll(t *testing.T) {
	vals := []int64{5, 5, 1000, 1001, 1002, 7, 1 << 30, 1000}
	var one, all H
	for _, v := range vals {
		one.Record(v)
	}
	all.RecordAll(len(vals), func(i int) int64 { return vals[i] })
	all.RecordAll(0, func(int) int64 { t.Fatal("called for an empty batch"); return 0 })
	for i := range one.counts {
		if one.counts[i].Load() != all.counts[i].Load() {
			t.Fatalf("bucket %d: %d one by one, %d at once", i, one.counts[i].Load(), all.counts[i].Load())
		}
	}
	if one.Max() != all.Max() {
		t.Fatalf("max %d one by one, %d at once", one.Max(), all.Max())
	}
}
