package interop

import (
	"bytes"
	"testing"
)

// BenchmarkParseLine measures decoding one kcat line with a 1 KiB payload
// and a few headers (a test helper, not a hot path: it allocates the
// message it returns).
func BenchmarkParseLine(b *testing.B) {
	m := Message{Topic: "interop", Partition: 2, Offset: 12345, TimestampType: "create", Timestamp: 1_700_000_000_000,
		Key: []byte("key-17"), Value: bytes.Repeat([]byte("value \"quoted\"\n"), 64),
		Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "null"}, {Key: "bin", Value: []byte{0, 1, 0xff}}}}
	line := kcatLine(m)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
