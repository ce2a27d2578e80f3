package batch

import (
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCRCCombine(t *testing.T) {
	table := crc32.MakeTable(crc32.Castagnoli)
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cuts := []struct{ a, b int }{{0, 0}, {0, 10}, {10, 0}, {40, 1}, {40, 255}, {40, 256}, {40, 65535}, {40, 65536}, {40, 100_000}, {1, 199_999}, {61, 7}, {33333, 44444}}
	for range 50 {
		a := rng.IntN(100)
		cuts = append(cuts, struct{ a, b int }{a, rng.IntN(len(data) - a)})
	}
	for _, cut := range cuts {
		a, b := data[:cut.a], data[cut.a:cut.a+cut.b]
		want := crc32.Checksum(data[:cut.a+cut.b], table)
		if got := crcCombine(crc32.Checksum(a, table), xPow8n(uint32(len(b))), crc32.Checksum(b, table)); got != want {
			t.Errorf("combine %d+%d bytes: %#x, want %#x", cut.a, cut.b, got, want)
		}
	}
}

func TestXPow8nLargeCounts(t *testing.T) {
	// Multiplying x^(8a) by x^(8b) gives x^(8(a+b)), across table borders.
	for _, n := range []uint32{1 << 24, 1<<24 + 1, 1<<31 - 1, 1<<32 - 1, 0xdeadbeef} {
		for _, m := range []uint32{0, 1, 255, 256, 70000} {
			if n+m < n {
				continue
			}
			if got, want := gfMul(xPow8n(n), xPow8n(m)), xPow8n(n+m); got != want {
				t.Errorf("x^8(%d) * x^8(%d) = %#x, want %#x", n, m, got, want)
			}
		}
	}
	// And a slow bit-by-bit reference for a few counts.
	for _, n := range []uint32{0, 1, 2, 3, 255, 256, 257, 65537} {
		want := uint32(1) << 31
		for range uint64(n) * 8 {
			want = gfMul(want, 1<<30) // times x
		}
		if got := xPow8n(n); got != want {
			t.Errorf("xPow8n(%d) = %#x, want %#x", n, got, want)
		}
	}
}

func TestParseRecordsRejectsCorrupt(t *testing.T) {
	var b Builder
	b.Append(10, []byte("key"), []byte("value"), []Header{{Key: "h", Value: []byte("v")}})
	b.Append(11, nil, nil, nil)
	good := b.buf[Overhead:]
	noop := func(Record) bool { return true }
	if err := parseRecords(good, 2, 10, noop); err != nil {
		t.Fatalf("good records: %v", err)
	}
	flip := func(i int, v byte) []byte {
		p := append([]byte(nil), good...)
		p[i] = v
		return p
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		count int
	}{
		{"too few records", good, 3},
		{"too many bytes", good, 1},
		{"truncated", good[:len(good)-1], 2},
		{"empty", nil, 1},
		{"record longer than data", flip(0, 0x7e), 2},
		{"negative record length", flip(0, 0x03), 2},
		{"bad offset delta", flip(3, 0x08), 2},
		{"key longer than record", flip(4, 0x60), 2},
		{"negative key length", flip(4, 0x05), 2},
		{"unterminated varint", []byte{0x80, 0x80, 0x80}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parseRecords(tc.data, tc.count, 10, noop)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
		})
	}
}
