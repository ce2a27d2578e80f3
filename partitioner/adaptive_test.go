package partitioner

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestLoadTableBuild(t *testing.T) {
	tests := []struct {
		name   string
		queues []int32
		marks  []int32
		active bool
		cum    []int64
	}{
		// Weights 6-q for q = 5 0 3 0 1.
		{"five partitions", []int32{5, 0, 3, 0, 1}, nil, true, []int64{1, 7, 10, 16, 21}},
		{"three partitions", []int32{0, 3, 1}, nil, true, []int64{4, 5, 8}},
		{"all equal", []int32{2, 2, 2}, nil, false, nil},
		{"all empty", []int32{0, 0}, nil, false, nil},
		{"one partition", []int32{7}, nil, false, nil},
		{"no partitions", nil, nil, false, nil},
		{"negative depth excludes", []int32{3, -1, 0}, nil, true, []int64{1, 1, 5}},
		{"equal but one excluded", []int32{4, 4, -1}, nil, true, []int64{1, 2, 2}},
		{"all excluded", []int32{-1, -1}, nil, false, nil},
		{"marked excludes", []int32{0, 9, 1}, []int32{1}, true, []int64{2, 2, 3}},
		{"all marked", []int32{0, 1}, []int32{0, 1}, false, nil},
		{"huge depths", []int32{math.MaxInt32, 0}, nil, true, []int64{1, 1 + math.MaxInt32 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var marks map[int32]struct{}
			for _, p := range tt.marks {
				if marks == nil {
					marks = map[int32]struct{}{}
				}
				marks[p] = struct{}{}
			}
			var lt loadTable
			lt.build(tt.queues, marks)
			if lt.active != tt.active {
				t.Fatalf("active = %v, want %v (cum %v)", lt.active, tt.active, lt.cum)
			}
			if tt.active && !slices.Equal(lt.cum, tt.cum) {
				t.Fatalf("cum = %v, want %v", lt.cum, tt.cum)
			}
		})
	}
}

// With a random source that just counts up, one pass over the range of the table picks each partition exactly as often
// as its weight.
func TestAdaptiveChoiceFollowsWeightsExactly(t *testing.T) {
	s := NewSticky(StickyConfig{BatchSize: 1, Adaptive: true})
	var counter uint64
	s.randN = func(n uint64) uint64 {
		counter++
		return (counter - 1) % n
	}
	queues := []int32{5, 0, 3, 0, 1}
	s.UpdateLoad("A", queues)
	topic := s.topics.Get("A")

	const cycles = 2
	counts := make([]int, len(queues))
	for range 21 * cycles {
		counts[topic.choose(len(queues), nil, NoPartition)]++
	}
	for p, q := range queues {
		if want := int(6-q) * cycles; counts[p] != want {
			t.Errorf("partition %d (queue %d) chosen %d times, want %d", p, q, counts[p], want)
		}
	}
}

func TestAdaptiveAvoidsDeepQueue(t *testing.T) {
	const n, switches = 4, 30_000
	s := newSeededSticky(StickyConfig{BatchSize: 1, Adaptive: true}, 11)
	s.UpdateLoad("t", []int32{0, 0, 0, 1000})
	counts := make([]int, n)
	for range switches {
		counts[produce(s, "t", 1, n, nil)]++
	}
	// Partition 3 weighs 1 against 1001 for each of the others.
	if counts[3] > switches/200 {
		t.Errorf("partition with the deep queue chosen %d of %d times: %v", counts[3], switches, counts)
	}
	for p := range 3 {
		if want := switches / 3; counts[p] < want*9/10 || counts[p] > want*11/10 {
			t.Errorf("partition %d chosen %d times, want about %d: %v", p, counts[p], want, counts)
		}
	}
}

func TestAdaptivePrefersShortQueues(t *testing.T) {
	// Weights are 6:1:6. Because a switch never picks the partition it
	// leaves, the long-run share of partition 1 is 1/8 rather than 1/13
	// (from 0 or 2 it is picked with probability 1/7, from 1 never), which
	// is still a third of what uniform choice would give it.
	s := newSeededSticky(StickyConfig{BatchSize: 1, Adaptive: true}, 12)
	s.UpdateLoad("t", []int32{0, 5, 0})
	counts := make([]int, 3)
	for range 30_000 {
		counts[produce(s, "t", 1, 3, nil)]++
	}
	if counts[1]*3 > counts[0] || counts[1]*3 > counts[2] || counts[1]*10 < 30_000 {
		t.Errorf("queue of 5 chosen too often against empty queues: %v", counts)
	}
}

func TestAdaptiveOff(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1}, 13)
	s.UpdateLoad("t", []int32{0, 0, 0, 1000})
	counts := make([]int, 4)
	for range 20_000 {
		counts[produce(s, "t", 1, 4, nil)]++
	}
	if counts[3] < 4000 {
		t.Errorf("load reports changed the choice with adaptive off: %v", counts)
	}
}

func TestAdaptiveTableForOtherPartitionCount(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1, Adaptive: true}, 14)
	s.UpdateLoad("t", []int32{0, 1000, 1000, 1000})
	// The topic grew to 6 partitions: the old table must not be used, and
	// the new partitions must be chosen.
	counts := make([]int, 6)
	for range 12_000 {
		counts[produce(s, "t", 1, 6, nil)]++
	}
	for p, c := range counts {
		if c < 1500 {
			t.Errorf("partition %d chosen %d times, want about 2000: %v", p, c, counts)
		}
	}
}

func TestAdaptiveWithAvailable(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1, Adaptive: true}, 15)
	s.UpdateLoad("t", []int32{0, 0, 1000, 0, 0})
	available := []int32{1, 2, 3}
	counts := make([]int, 5)
	for range 10_000 {
		p := produce(s, "t", 1, 5, available)
		if !slices.Contains(available, p) {
			t.Fatalf("chose %d, not in %v", p, available)
		}
		counts[p]++
	}
	if counts[2] > 100 {
		t.Errorf("deep queue chosen %d times: %v", counts[2], counts)
	}
}

func TestUnavailablePartitionsSkipped(t *testing.T) {
	cfg := StickyConfig{BatchSize: 1, Adaptive: true, AvailabilityTimeout: time.Second}
	s := newSeededSticky(cfg, 16)
	s.SetUnavailable("t", 2, true)
	s.SetUnavailable("t", 4, true)
	for range 2000 {
		if p := produce(s, "t", 1, 5, nil); p == 2 || p == 4 {
			t.Fatalf("chose unavailable partition %d", p)
		}
	}

	s.SetUnavailable("t", 2, false)
	seen2 := false
	for range 2000 {
		p := produce(s, "t", 1, 5, nil)
		if p == 4 {
			t.Fatal("chose unavailable partition 4")
		}
		seen2 = seen2 || p == 2
	}
	if !seen2 {
		t.Fatal("partition 2 never chosen after it became available again")
	}

	// Marks also count with a load table, and are applied when it is built.
	s.UpdateLoad("t", []int32{0, 5, 5, 5, 5})
	for range 2000 {
		if p := produce(s, "t", 1, 5, nil); p == 4 {
			t.Fatal("chose unavailable partition 4 with a load table")
		}
	}
}

func TestAllPartitionsUnavailable(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1, Adaptive: true, AvailabilityTimeout: time.Second}, 17)
	for p := range int32(3) {
		s.SetUnavailable("t", p, true)
	}
	seen := map[int32]bool{}
	for range 300 {
		p := produce(s, "t", 1, 3, nil)
		if p < 0 || p >= 3 {
			t.Fatalf("chose %d", p)
		}
		seen[p] = true
	}
	if len(seen) != 3 {
		t.Fatalf("with every partition unavailable the choice should stay uniform, used %v", seen)
	}
}

func TestUnavailableCurrentPartitionLeftAtOnce(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1 << 20, Adaptive: true, AvailabilityTimeout: time.Second}, 18)
	p := s.Partition("t", 4, nil)
	s.SetUnavailable("t", p, true)
	if got := s.Partition("t", 4, nil); got == p {
		t.Fatalf("still on %d after it was reported unavailable", p)
	}
}

func TestUnavailableIgnoredWhenOff(t *testing.T) {
	for _, cfg := range []StickyConfig{
		{BatchSize: 1, Adaptive: true},                                    // no timeout
		{BatchSize: 1, Adaptive: false, AvailabilityTimeout: time.Second}, // not adaptive
	} {
		s := newSeededSticky(cfg, 19)
		s.SetUnavailable("t", 1, true)
		seen1 := false
		for range 200 {
			seen1 = seen1 || produce(s, "t", 1, 3, nil) == 1
		}
		if !seen1 {
			t.Errorf("config %+v: report of unavailability was honored", cfg)
		}
	}
}
