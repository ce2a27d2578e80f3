package partitioner

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// newSeededSticky returns a Sticky whose random choices come from a fixed
// seed, so statistical tests see the same numbers on every run.
func newSeededSticky(cfg StickyConfig, seed uint64) *Sticky {
	s := NewSticky(cfg)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.randN = func(n uint64) uint64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Uint64N(n)
	}
	return s
}

// produce sends one keyless record of size bytes to topic through s, the way
// the producer does, and returns the partition it went to.
func produce(s *Sticky, topic string, size, n int, available []int32) int32 {
	p := s.Partition(topic, n, available)
	s.OnAppend(topic, p, size, false, n, available)
	return p
}

func TestStickyStaysUntilBatchSize(t *testing.T) {
	tests := []struct {
		name       string
		batchSize  int
		recordSize int
		perSwitch  int // records that go to one partition before it switches
	}{
		{"three one-byte records", 3, 1, 3},
		{"batch of 16 KiB, 1000-byte records", 16384, 1000, 17},
		{"exact multiple", 100, 25, 4},
		{"record larger than a batch", 100, 150, 1},
		{"zero batch size switches every record", 0, 10, 1},
		{"negative batch size switches every record", -7, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSeededSticky(StickyConfig{BatchSize: tt.batchSize}, 1)
			const n = 5
			for round := range 20 {
				first := produce(s, "t", tt.recordSize, n, nil)
				for i := 1; i < tt.perSwitch; i++ {
					if p := produce(s, "t", tt.recordSize, n, nil); p != first {
						t.Fatalf("round %d: record %d went to %d, want %d (still sticky)", round, i, p, first)
					}
				}
				if p := s.Partition("t", n, nil); p == first {
					t.Fatalf("round %d: still on %d after %d records of %d bytes", round, p, tt.perSwitch, tt.recordSize)
				}
			}
		})
	}
}

func TestStickySinglePartition(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1}, 1)
	for range 10 {
		if p := produce(s, "t", 1, 1, nil); p != 0 {
			t.Fatalf("single partition topic got partition %d", p)
		}
	}
}

func TestStickyBatchFullSwitches(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 1 << 20}, 1)
	p := s.Partition("t", 4, nil)
	s.OnAppend("t", p, 10, false, 4, nil)
	if got := s.Partition("t", 4, nil); got != p {
		t.Fatalf("switched from %d to %d after 10 bytes of a 1 MiB batch", p, got)
	}
	s.OnAppend("t", p, 10, true, 4, nil)
	if got := s.Partition("t", 4, nil); got == p {
		t.Fatalf("still on %d after the accumulator reported a full batch", p)
	}
}

func TestStickyIgnoresAppendsToOtherPartitions(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 100}, 1)
	p := s.Partition("t", 4, nil)
	other := (p + 1) % 4
	s.OnAppend("t", other, 1000, true, 4, nil)
	s.OnAppend("t", -3, 1000, true, 4, nil)
	if got := s.Partition("t", 4, nil); got != p {
		t.Fatalf("append to partition %d moved the sticky partition from %d to %d", other, p, got)
	}
	// The stray bytes were not counted: 99 more bytes keep the partition.
	s.OnAppend("t", p, 99, false, 4, nil)
	if got := s.Partition("t", 4, nil); got != p {
		t.Fatalf("switched after 99 of 100 bytes: %d -> %d", p, got)
	}
	s.OnAppend("t", p, 1, false, 4, nil)
	if got := s.Partition("t", 4, nil); got == p {
		t.Fatalf("still on %d after 100 of 100 bytes", p)
	}
}

func TestStickyNegativeAppendCountsNothing(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 10}, 1)
	p := s.Partition("t", 4, nil)
	s.OnAppend("t", p, 9, false, 4, nil)
	s.OnAppend("t", p, math.MinInt, false, 4, nil)
	if got := s.Partition("t", 4, nil); got != p {
		t.Fatalf("negative append moved the partition: %d -> %d", p, got)
	}
	s.OnAppend("t", p, 1, false, 4, nil)
	if got := s.Partition("t", 4, nil); got == p {
		t.Fatalf("negative append was subtracted: still on %d", p)
	}
}

func TestStickyHugeAppendSwitches(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: math.MaxInt}, 1)
	if got := s.Config().BatchSize; got != math.MaxInt32 {
		t.Fatalf("batch size normalized to %d, want %d", got, math.MaxInt32)
	}
	p := s.Partition("t", 3, nil)
	s.OnAppend("t", p, math.MaxInt, false, 3, nil)
	if got := s.Partition("t", 3, nil); got == p {
		t.Fatalf("still on %d after appending MaxInt bytes", p)
	}
}

func TestStickyNewPartitionDiffers(t *testing.T) {
	for n := 2; n <= 6; n++ {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, uint64(n))
		prev := produce(s, "t", 1, n, nil)
		for i := range 2000 {
			p := produce(s, "t", 1, n, nil)
			if p == prev {
				t.Fatalf("n=%d switch %d: chose %d again", n, i, p)
			}
			prev = p
		}
	}
}

func TestStickyDistributesUniformly(t *testing.T) {
	const n, switches = 10, 100_000
	s := newSeededSticky(StickyConfig{BatchSize: 1000}, 42)
	counts := make([]int, n)
	for range switches {
		p := s.Partition("t", n, nil)
		counts[p]++
		s.OnAppend("t", p, 1000, false, n, nil)
	}
	want := switches / n
	for p, c := range counts {
		if c < want*97/100 || c > want*103/100 {
			t.Errorf("partition %d chosen %d times, want %d ± 3%% (all: %v)", p, c, want, counts)
		}
	}
}

func TestStickyTopicsAreIndependent(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 10}, 3)
	a := s.Partition("a", 8, nil)
	b := s.Partition("b", 8, nil)
	for range 50 {
		produce(s, "a", 10, 8, nil)
	}
	if got := s.Partition("b", 8, nil); got != b {
		t.Fatalf("switching topic a moved topic b from %d to %d", b, got)
	}
	_ = a
}

// Partitions without a leader are not chosen while some partition has one.
func TestStickyRespectsAvailable(t *testing.T) {
	t.Run("one of three partitions has no leader", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, 5)
		available := []int32{0, 2}
		seen := map[int32]int{}
		for range 100 {
			p := produce(s, "A", 1, 3, available)
			if p == 1 {
				t.Fatal("chose partition 1, which has no leader")
			}
			seen[p]++
		}
		if len(seen) != 2 {
			t.Fatalf("expected both available partitions to be used, got %v", seen)
		}
	})
	t.Run("only one partition has a leader", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, 5)
		for range 100 {
			if p := produce(s, "B", 1, 2, []int32{1}); p != 1 {
				t.Fatalf("chose %d, want the only available partition 1", p)
			}
		}
	})
	t.Run("no partition has a leader", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, 5)
		for range 10 {
			if p := produce(s, "C", 1, 1, nil); p != 0 {
				t.Fatalf("chose %d, want 0", p)
			}
		}
	})
	t.Run("current partition loses its leader", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1 << 20}, 5)
		p := s.Partition("t", 4, nil)
		var rest []int32
		for q := range int32(4) {
			if q != p {
				rest = append(rest, q)
			}
		}
		got := s.Partition("t", 4, rest)
		if got == p || !slices.Contains(rest, got) {
			t.Fatalf("partition %d lost its leader; chose %d from %v", p, got, rest)
		}
		// And it stays there: the switch was installed, not just returned.
		if again := s.Partition("t", 4, nil); again != got {
			t.Fatalf("after the switch to %d, next call returned %d", got, again)
		}
	})
	t.Run("unsorted list", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, 5)
		available := []int32{9, 3, 7, 1}
		seen := map[int32]bool{}
		for range 200 {
			p := produce(s, "t", 1, 10, available)
			if !slices.Contains(available, p) {
				t.Fatalf("chose %d, not in %v", p, available)
			}
			seen[p] = true
		}
		if len(seen) != len(available) {
			t.Fatalf("used %v, want all of %v", seen, available)
		}
	})
	t.Run("stale list naming only partitions that no longer exist", func(t *testing.T) {
		s := newSeededSticky(StickyConfig{BatchSize: 1}, 5)
		for range 50 {
			if p := produce(s, "t", 1, 3, []int32{5, 6}); p < 0 || p >= 3 {
				t.Fatalf("chose %d for a topic of 3 partitions", p)
			}
		}
	})
}

func TestStickyPartitionCountChanges(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 50, Adaptive: true, AvailabilityTimeout: time.Second}, 9)
	rng := rand.New(rand.NewPCG(9, 9))
	var available []int32
	for step := range 20_000 {
		n := 1 + rng.IntN(16)
		available = available[:0]
		if rng.IntN(3) == 0 {
			for p := range int32(n + 2) { // may name partitions that are gone
				if rng.IntN(2) == 0 {
					available = append(available, p)
				}
			}
		}
		switch rng.IntN(8) {
		case 0:
			queues := make([]int32, rng.IntN(18))
			for i := range queues {
				queues[i] = int32(rng.IntN(10)) - 1
			}
			s.UpdateLoad("t", queues)
		case 1:
			s.SetUnavailable("t", int32(rng.IntN(18)), rng.IntN(2) == 0)
		}
		p := s.Partition("t", n, available)
		if p < 0 || int(p) >= n {
			t.Fatalf("step %d: partition %d with %d partitions", step, p, n)
		}
		if !allAvailable(available, n) && hasInRange(available, n) && !slices.Contains(available, p) {
			t.Fatalf("step %d: partition %d not in available %v (n=%d)", step, p, available, n)
		}
		s.OnAppend("t", p, rng.IntN(40), rng.IntN(10) == 0, n, available)
	}
}

func TestStickyNoPartitions(t *testing.T) {
	s := NewSticky(StickyConfig{BatchSize: 10})
	for _, n := range []int{0, -1, math.MinInt} {
		if p := s.Partition("t", n, nil); p != NoPartition {
			t.Fatalf("Partition with %d partitions = %d, want NoPartition", n, p)
		}
	}
	// A switch reported while the count is unknown leaves no partition
	// chosen; the next Partition call chooses one.
	p := s.Partition("t", 4, nil)
	s.OnAppend("t", p, 10, false, 0, nil)
	if cur := s.Current("t"); cur != NoPartition {
		t.Fatalf("Current after a switch with no partitions = %d, want NoPartition", cur)
	}
	if p := s.Partition("t", 4, nil); p < 0 || p >= 4 {
		t.Fatalf("Partition after the switch = %d", p)
	}
}

func TestStickyCurrent(t *testing.T) {
	s := NewSticky(StickyConfig{BatchSize: 10})
	if p := s.Current("t"); p != NoPartition {
		t.Fatalf("Current before any Partition = %d, want NoPartition", p)
	}
	p := s.Partition("t", 6, nil)
	if cur := s.Current("t"); cur != p {
		t.Fatalf("Current = %d, Partition returned %d", cur, p)
	}
}

func TestStickyConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      StickyConfig
		wantErr bool
		want    StickyConfig
	}{
		{"zero value", StickyConfig{}, false, StickyConfig{BatchSize: 1}},
		{"java defaults", StickyConfig{BatchSize: 16384, Adaptive: true}, false, StickyConfig{BatchSize: 16384, Adaptive: true}},
		{"negative batch size", StickyConfig{BatchSize: -1}, true, StickyConfig{BatchSize: 1}},
		{"negative timeout", StickyConfig{BatchSize: 5, AvailabilityTimeout: -time.Second}, true, StickyConfig{BatchSize: 5}},
		{"timeout", StickyConfig{BatchSize: 5, Adaptive: true, AvailabilityTimeout: time.Second}, false, StickyConfig{BatchSize: 5, Adaptive: true, AvailabilityTimeout: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, not ErrInvalidConfig", err)
			}
			if got := NewSticky(tt.in).Config(); got != tt.want {
				t.Fatalf("Config() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPackWord(t *testing.T) {
	for _, p := range []int32{NoPartition, 0, 1, 1000, math.MaxInt32} {
		for _, b := range []uint64{0, 1, math.MaxInt32, math.MaxUint32} {
			w := packWord(p, b)
			if wordPartition(w) != p || wordBytes(w) != b {
				t.Fatalf("packWord(%d, %d) decodes to (%d, %d)", p, b, wordPartition(w), wordBytes(w))
			}
		}
	}
	if wordPartition(0) != NoPartition {
		t.Fatal("the zero word must mean NoPartition")
	}
}

func TestStickyTopicHandle(t *testing.T) {
	s := newSeededSticky(StickyConfig{BatchSize: 10}, 21)
	h := s.Topic("t")
	if s.Topic("t") != h {
		t.Fatal("Topic returned a different handle for the same topic")
	}
	if s.Topic("u") == h {
		t.Fatal("two topics share a handle")
	}
	// Calls through the handle and through the Sticky see one state.
	p := h.Partition(5, nil)
	if got := s.Partition("t", 5, nil); got != p {
		t.Fatalf("handle chose %d, Sticky says %d", p, got)
	}
	h.OnAppend(p, 10, false, 5, nil)
	if got := s.Current("t"); got == p {
		t.Fatalf("switch through the handle not seen by the Sticky: still %d", got)
	}
	if h.Current() != s.Current("t") {
		t.Fatal("handle and Sticky disagree on the current partition")
	}
}
