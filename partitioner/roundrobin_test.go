package partitioner

import (
	"math"
	"testing"
)

// Calls for topic B in between must not disturb topic A's cycle.
func TestRoundRobinCyclesPerTopic(t *testing.T) {
	for _, n := range []int{3, 4} {
		rr := NewRoundRobin()
		counts := map[int32]int{}
		for i := range 10 * n {
			p := rr.Partition("A", []byte("key"), nil, n)
			if want := int32(i % n); p != want {
				t.Fatalf("n=%d call %d: got %d, want %d", n, i, p, want)
			}
			counts[p]++
			if i%5 == 0 {
				rr.Partition("B", nil, nil, 1)
			}
		}
		for p := range int32(n) {
			if counts[p] != 10 {
				t.Errorf("n=%d: partition %d got %d records, want 10", n, p, counts[p])
			}
		}
	}
}

func TestRoundRobinAvailable(t *testing.T) {
	rr := NewRoundRobin().(AvailabilityAware)
	counts := map[int32]int{}
	for range 100 {
		p := rr.PartitionAvailable("test", nil, nil, 3, []int32{2, 0})
		if p == 1 {
			t.Fatal("chose partition 1, which has no leader")
		}
		counts[p]++
	}
	if counts[0] != 50 || counts[2] != 50 {
		t.Fatalf("available partitions not used evenly: %v", counts)
	}
}

func TestRoundRobinEdgeCases(t *testing.T) {
	rr := NewRoundRobin().(AvailabilityAware)
	for _, n := range []int{0, -1, math.MinInt} {
		if p := rr.Partition("t", nil, nil, n); p != NoPartition {
			t.Errorf("Partition with %d partitions = %d, want NoPartition", n, p)
		}
	}
	// A stale available list naming partitions that are gone falls back to
	// counting over all partitions.
	for range 20 {
		if p := rr.PartitionAvailable("s", nil, nil, 2, []int32{7, -1}); p < 0 || p >= 2 {
			t.Fatalf("stale available list gave %d", p)
		}
	}
	// The partition count may change between calls.
	for i := range 100 {
		n := 1 + i%7
		if p := rr.Partition("g", nil, nil, n); p < 0 || int(p) >= n {
			t.Fatalf("count %d gave %d", n, p)
		}
	}
}

func TestHash(t *testing.T) {
	h := Hash()
	if _, ok := h.(AvailabilityAware); !ok {
		t.Fatal("Hash() does not implement AvailabilityAware")
	}
	for _, v := range javaMurmur2Vectors {
		for _, n := range []int{1, 3, 12, 100} {
			if got, want := h.Partition("t", v.key, nil, n), KeyPartition(v.key, n); got != want {
				t.Fatalf("Hash placed %q on %d, KeyPartition says %d", v.key, got, want)
			}
		}
	}
	// Keyed records ignore the available list: a key keeps its partition.
	if got, want := h.(AvailabilityAware).PartitionAvailable("t", []byte("abc"), nil, 6, []int32{0}), int32(3); got != want {
		t.Fatalf("keyed record placed on %d, want %d", got, want)
	}
	// An empty key is a key (it hashes); a nil key is not (it cycles).
	if got, want := h.Partition("t", []byte{}, nil, 1000), KeyPartition([]byte{}, 1000); got != want {
		t.Fatalf("empty key placed on %d, want %d", got, want)
	}
	for i := range 9 {
		if got := h.Partition("nil-keys", nil, nil, 3); got != int32(i%3) {
			t.Fatalf("nil key record %d placed on %d, want %d", i, got, i%3)
		}
	}
}

func TestCustomPartitionerFunc(t *testing.T) {
	var p Partitioner = Func(func(topic string, key, value []byte, numPartitions int) int32 {
		if containsHello(value) {
			return 0
		}
		return 1
	})
	tests := []struct {
		value string
		want  int32
	}{
		{"hello world", 0},
		{"say hello", 0},
		{"goodbye", 1},
		{"", 1},
		{"Hello", 1},
	}
	for _, tt := range tests {
		if got := p.Partition("greetings", nil, []byte(tt.value), 2); got != tt.want {
			t.Errorf("value %q went to %d, want %d", tt.value, got, tt.want)
		}
	}
}

// containsHello reports whether value contains "hello".
func containsHello(value []byte) bool {
	for i := 0; i+5 <= len(value); i++ {
		if string(value[i:i+5]) == "hello" {
			return true
		}
	}
	return false
}

func TestNilFunc(t *testing.T) {
	var f Func
	if p := f.Partition("t", nil, nil, 3); p != NoPartition {
		t.Fatalf("nil Func returned %d, want NoPartition", p)
	}
}
