package batch

import (
	"fmt"
	"testing"
)

// benchValue returns a 100-byte JSON-like value: the shape of typical event
// data, compressible but not trivially so.
func benchValue(i int) []byte {
	v := fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"page_view","ts":%d,"path":"/p/%d"`, i, i*7919%100003, 1_700_000_000_000+i, i%977)
	for len(v) < 99 {
		v = append(v, ' ')
	}
	return append(v[:99], '}')
}

var benchKey = []byte("0123456789abcdef")

func benchAppend(b *testing.B, valueSize int) {
	value := make([]byte, valueSize)
	copy(value, benchValue(1))
	var bb Builder
	bb.Reset(make([]byte, 0, 1<<20+4096))
	b.SetBytes(int64(len(benchKey) + valueSize))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if bb.Len() >= 1<<20 {
			bb.Reset(bb.Buffer())
		}
		bb.Append(int64(i), benchKey, value, nil)
	}
}

// BenchmarkAppend appends records of a 16-byte key and 100-byte value.
func BenchmarkAppend(b *testing.B) { benchAppend(b, 100) }

// BenchmarkAppend1KB appends records of a 16-byte key and 1 KiB value.
func BenchmarkAppend1KB(b *testing.B) { benchAppend(b, 1024) }

// BenchmarkAppendWithHeaders appends a 100-byte value with two headers.
func BenchmarkAppendWithHeaders(b *testing.B) {
	value := benchValue(1)
	headers := []Header{{Key: "trace-id", Value: []byte("4bf92f3577b34da6")}, {Key: "content-type", Value: []byte("json")}}
	var bb Builder
	bb.Reset(make([]byte, 0, 1<<20+4096))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if bb.Len() >= 1<<20 {
			bb.Reset(bb.Buffer())
		}
		bb.Append(int64(i), benchKey, value, headers)
	}
}

// BenchmarkAppendSize sizes a 100-byte record against an open batch.
func BenchmarkAppendSize(b *testing.B) {
	value := benchValue(1)
	var bb Builder
	bb.Append(0, benchKey, value, nil)
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		n += bb.AppendSize(int64(i), benchKey, value, nil)
	}
	if n == 0 {
		b.Fatal("no size")
	}
}

// fullBatch returns an open batch of 100-byte values filled to 16 KiB.
func fullBatch() Builder {
	var bb Builder
	for i := 0; bb.Len()+bb.AppendSize(int64(i), benchKey, benchValue(i), nil) <= 16<<10; i++ {
		bb.Append(1_700_000_000_000+int64(i), benchKey, benchValue(i), nil)
	}
	return bb
}

// BenchmarkFinish finishes a full 16 KiB batch of 100-byte values with each
// codec. Each iteration restores the open batch by copying its bytes back
// (about 16 KiB of memmove) and then closes it.
func BenchmarkFinish(b *testing.B) {
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		b.Run(c.String(), func(b *testing.B) {
			comp, err := NewCompressor(c, DefaultLevel)
			if err != nil {
				b.Fatal(err)
			}
			open := fullBatch()
			raw := append([]byte(nil), open.buf...)
			var bb Builder
			buf := make([]byte, 0, 2*len(raw))
			restore := func() {
				bb = open
				bb.buf = append(buf[:0], raw...)
			}
			restore()
			if err := bb.Finish(comp); err != nil { // warm the pools
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
			b.ReportMetric(float64(len(bb.Bytes())), "wire-bytes")
		})
	}
}

// BenchmarkStamp re-stamps a finished, full 16 KiB batch.
func BenchmarkStamp(b *testing.B) {
	bb := fullBatch()
	if err := bb.Finish(nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bb.Stamp(int64(i), int16(i), int32(i), i&1 == 0)
	}
}

// BenchmarkEachRecord iterates a finished lz4 batch of 16 KiB.
func BenchmarkEachRecord(b *testing.B) {
	bb := fullBatch()
	comp, _ := NewCompressor(LZ4, DefaultLevel)
	if err := bb.Finish(comp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := bb.EachRecord(func(Record) bool { n++; return true }); err != nil || n != bb.NumRecords() {
			b.Fatal(err, n)
		}
	}
}

// BenchmarkDecompress decompresses the records section of a full 16 KiB
// batch with each codec.
func BenchmarkDecompress(b *testing.B) {
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		b.Run(c.String(), func(b *testing.B) {
			comp, _ := NewCompressor(c, DefaultLevel)
			open := fullBatch()
			z, err := comp.Compress(nil, open.buf[Overhead:])
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 2*len(open.buf))
			b.SetBytes(int64(len(open.buf) - Overhead))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Decompress(c, dst[:0], z); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
