package batch

import (
	"fmt"
	"testing"
)

// filledBatch returns an open batch of valueSize-byte values (built from
// benchValue, so about as compressible) filled to limit bytes.
func filledBatch(limit, valueSize int) Builder {
	value := func(i int) []byte {
		v := make([]byte, 0, valueSize+100)
		for j := 0; len(v) < valueSize; j++ {
			v = append(v, benchValue(i*16+j)...)
		}
		return v[:valueSize]
	}
	var bb Builder
	bb.Reset(make([]byte, 0, limit+Overhead))
	for i := 0; ; i++ {
		v := value(i)
		if bb.Len()+bb.AppendSize(int64(i), benchKey, v, nil) > limit {
			return bb
		}
		bb.Append(1_700_000_000_000+int64(i), benchKey, v, nil)
	}
}

// BenchmarkCloseBySize closes batches of growing size with each codec the
// producer comparisons use and reports the cost per record: what a codec
// costs per batch, whatever the batch holds, shows as the drop in ns/record
// from 16 KiB (the default batch.size) to larger batches.
func BenchmarkCloseBySize(b *testing.B) {
	for _, tc := range []struct {
		codec     Codec
		valueSize int
	}{{None, 100}, {LZ4, 100}, {LZ4, 1024}, {Zstd, 100}, {Zstd, 1024}, {Snappy, 100}, {Gzip, 100}} {
		for _, kib := range []int{16, 64, 256, 1024} {
			b.Run(fmt.Sprintf("%v/value=%d/batch=%dKiB", tc.codec, tc.valueSize, kib), func(b *testing.B) {
				comp, err := NewCompressor(tc.codec, DefaultLevel)
				if err != nil {
					b.Fatal(err)
				}
				open := filledBatch(kib<<10, tc.valueSize)
				raw := append([]byte(nil), open.buf...)
				buf := make([]byte, 0, 2*len(raw))
				var bb Builder
				restore := func() {
					bb = open
					bb.buf = append(buf[:0], raw...)
				}
				restore()
				if err := bb.Finish(comp); err != nil { // warm the codec's pools
					b.Fatal(err)
				}
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					restore()
					if err := bb.Finish(comp); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				n := float64(open.NumRecords())
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
				b.ReportMetric(float64(len(bb.Bytes()))/float64(len(raw)), "ratio")
			})
		}
	}
}
