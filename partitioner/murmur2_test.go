package partitioner

import (
	"math"
	"testing"
)

// javaMurmur2Vectors are hashes the Java client computes for these keys;
// matching them is what puts keyed records where Java producers put them.
var javaMurmur2Vectors = []struct {
	key  []byte
	want int32
}{
	{[]byte("21"), -973932308},
	{[]byte("foobar"), -790332482},
	{[]byte("a-little-bit-long-string"), -985981536},
	{[]byte("a-little-bit-longer-string"), -1486304829},
	{[]byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971},
	{[]byte{'a', 'b', 'c'}, 479470107},
}

func TestMurmur2JavaVectors(t *testing.T) {
	for _, v := range javaMurmur2Vectors {
		if got := Murmur2(v.key); got != v.want {
			t.Errorf("Murmur2(%q) = %d, want %d", v.key, got, v.want)
		}
	}
}

// The Java vectors cover tails of every length but no key shorter than one
// block and no byte with the high bit set (where a signed-byte slip would
// show). These pin such keys; the same keys are checked against an
// independent client in interop_test.go.
func TestMurmur2ShortKeys(t *testing.T) {
	tests := []struct {
		key  []byte
		want int32
	}{
		{nil, 275646681},
		{[]byte{}, 275646681},
		{[]byte("a"), -1563381124},
		{[]byte("ab"), 316155434},
		{[]byte("key"), -1079937367},
		{[]byte("abcd"), -1323649548},
		{[]byte("abcde"), 461995741},
		{[]byte{0xff, 0x80, 0x7f, 0x00, 0xff}, 1086438432},
	}
	for _, tt := range tests {
		if got := Murmur2(tt.key); got != tt.want {
			t.Errorf("Murmur2(%v) = %d, want %d", tt.key, got, tt.want)
		}
		if got := murmur2Reference(tt.key); got != tt.want {
			t.Errorf("murmur2Reference(%v) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestToPositive(t *testing.T) {
	tests := []struct{ in, want int32 }{
		{0, 0},
		{1, 1},
		{-1, math.MaxInt32},
		{math.MaxInt32, math.MaxInt32},
		{math.MinInt32, 0},
		{-973932308, 1173551340},
	}
	for _, tt := range tests {
		if got := ToPositive(tt.in); got != tt.want {
			t.Errorf("ToPositive(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestKeyPartition(t *testing.T) {
	// Expected partitions follow from the Java vectors: ToPositive(hash) mod n.
	tests := []struct {
		key   string
		n     int
		want  int32
		notes string
	}{
		{"21", 1, 0, ""},
		{"21", 100, 40, ""},
		{"foobar", 12, 6, ""},
		{"foobar", 100, 66, ""},
		{"a-little-bit-long-string", 3, 2, ""},
		{"a-little-bit-long-string", 12, 8, ""},
		{"a-little-bit-longer-string", 6, 5, ""},
		{"a-little-bit-longer-string", 100, 19, ""},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 100, 77, ""},
		{"abc", 6, 3, ""},
		{"abc", 100, 7, ""},
		{"21", math.MaxInt32, 1173551340, "hash itself when it is below n"},
		{"21", 0, NoPartition, "no partitions"},
		{"21", -5, NoPartition, "negative count"},
	}
	for _, tt := range tests {
		if got := KeyPartition([]byte(tt.key), tt.n); got != tt.want {
			t.Errorf("KeyPartition(%q, %d) = %d, want %d %s", tt.key, tt.n, got, tt.want, tt.notes)
		}
	}
}

func TestKeyPartitionHugeCount(t *testing.T) {
	if math.MaxInt < math.MaxInt64 {
		t.Skip("needs a 64-bit int")
	}
	// A count beyond any int32 leaves the non-negative hash unchanged.
	n := math.MaxInt32 + 10
	if got, want := KeyPartition([]byte("21"), n), int32(1173551340); got != want {
		t.Errorf("KeyPartition with count %d = %d, want %d", n, got, want)
	}
}
