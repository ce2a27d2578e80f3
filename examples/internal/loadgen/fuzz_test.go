package loadgen

import (
	"strings"
	"testing"
)

// FuzzParseProps checks property parsing never panics, returns no map with
// an error, and keeps every key it accepted trimmed, non-empty and without a
// comma.
func FuzzParseProps(f *testing.F) {
	for _, s := range []string{"", "acks=1", "linger.ms=5,batch.size=65536", " a = b ,", "x=a=b", "=", ",,,", "a=1,a=2", "k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		props, err := ParseProps(s)
		if err != nil {
			if props != nil {
				t.Fatalf("ParseProps(%q) returned %v with error %v", s, props, err)
			}
			return
		}
		for k, v := range props {
			if k == "" || k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
				t.Fatalf("ParseProps(%q) kept key %q value %q untrimmed or empty", s, k, v)
			}
			if strings.Contains(k, ",") || strings.Contains(v, ",") {
				t.Fatalf("ParseProps(%q) kept a comma in %q=%q", s, k, v)
			}
		}
	})
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
		var h histogram
		h.Record(v)
		q := h.Quantile(0.5)
		if d := float64(q) - float64(w); d > float64(w)/64+1 || d < -float64(w)/64-1 {
			t.Fatalf("single value %d: median %d", v, q)
		}
	})
}
