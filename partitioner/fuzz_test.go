package partitioner

import (
	"math"
	"testing"
)

// FuzzMurmur2 holds Murmur2 to the plain reference implementation and checks
// that KeyPartition always lands in range.
func FuzzMurmur2(f *testing.F) {
	f.Fuzz(func(t *testing.T, key []byte, n int) {
		if got, want := Murmur2(key), murmur2Reference(key); got != want {
			t.Fatalf("Murmur2(%x) = %d, reference says %d", key, got, want)
		}
		p := KeyPartition(key, n)
		switch {
		case n < 1:
			if p != NoPartition {
				t.Fatalf("KeyPartition(%x, %d) = %d, want NoPartition", key, n, p)
			}
		case p < 0 || int(p) >= n:
			t.Fatalf("KeyPartition(%x, %d) = %d, out of range", key, n, p)
		case n <= math.MaxInt32 && p != ToPositive(Murmur2(key))%int32(n):
			t.Fatalf("KeyPartition(%x, %d) = %d, not the hash modulo n", key, n, p)
		}
	})
}

// FuzzSticky drives a Sticky with a script of operations decoded from the
// input, with partition counts and available lists that change at every
// step, and checks that every partition it hands out is in range and, when
// the available list names a partition in range, one of those.
func FuzzSticky(f *testing.F) {
	f.Fuzz(func(t *testing.T, script []byte, batchSize int, adaptive bool) {
		s := newSeededSticky(StickyConfig{BatchSize: batchSize % 1000, Adaptive: adaptive, AvailabilityTimeout: 1}, 7)
		topics := []string{"a", "b"}
		var available []int32
		for len(script) >= 3 {
			op, a, b := script[0], script[1], script[2]
			script = script[3:]
			topic := topics[int(op>>7)]
			n := int(a%20) - 1 // sometimes no partitions at all

			available = available[:0]
			for i := range 8 {
				if b&(1<<i) != 0 {
					available = append(available, int32(i*int(a%5)))
				}
			}

			switch op % 5 {
			case 0, 1:
				p := s.Partition(topic, n, available)
				checkChoice(t, p, n, available)
			case 2:
				s.OnAppend(topic, int32(a%24)-2, int(b)*10-100, op&8 != 0, n, available)
				if p := s.Current(topic); p < NoPartition || p >= 18 {
					t.Fatalf("current partition %d after OnAppend, never handed out", p)
				}
			case 3:
				queues := make([]int32, int(a%20))
				for i := range queues {
					queues[i] = int32(int(b)*(i+1)%97) - 5
				}
				s.UpdateLoad(topic, queues)
			case 4:
				s.SetUnavailable(topic, int32(a%24)-2, b&1 == 0)
			}
		}
	})
}

// checkChoice fails t unless p is a proper choice among n partitions given the
// available list.
func checkChoice(t *testing.T, p int32, n int, available []int32) {
	t.Helper()
	if n < 1 {
		if p != NoPartition {
			t.Fatalf("partition %d with no partitions, want NoPartition", p)
		}
		return
	}
	if p < 0 || int(p) >= n {
		t.Fatalf("partition %d out of range [0, %d)", p, n)
	}
	if allAvailable(available, n) || !hasInRange(available, n) {
		return
	}
	if !contains(available, p) {
		t.Fatalf("partition %d is not in available %v (n=%d)", p, available, n)
	}
}

// hasInRange reports whether available names any partition below n.
func hasInRange(available []int32, n int) bool {
	for _, p := range available {
		if p >= 0 && int(p) < n {
			return true
		}
	}
	return false
}
