package partitioner

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func BenchmarkMurmur2(b *testing.B) {
	for _, size := range []int{16, 100} {
		key := make([]byte, size)
		for i := range key {
			key[i] = byte(i*31 + 7)
		}
		b.Run(fmt.Sprint(size, "B"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var sink int32
			for b.Loop() {
				sink ^= Murmur2(key)
			}
			_ = sink
		})
	}
}

func BenchmarkKeyPartition(b *testing.B) {
	key := []byte("customer-00000042")
	b.ReportAllocs()
	var sink int32
	for b.Loop() {
		sink ^= KeyPartition(key, 12)
	}
	_ = sink
}

// newBenchSticky returns a Sticky with the Java defaults and topic "events"
// already seen.
func newBenchSticky() *Sticky {
	s := NewSticky(StickyConfig{BatchSize: 16384, Adaptive: true, AvailabilityTimeout: time.Second})
	s.Partition("events", 12, nil)
	s.UpdateLoad("events", []int32{1, 0, 2, 0, 0, 3, 1, 0, 0, 0, 4, 1})
	return s
}

func BenchmarkStickyPartition(b *testing.B) {
	s := newBenchSticky()
	b.Run("all-available", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Partition("events", 12, nil)
		}
	})
	b.Run("some-available", func(b *testing.B) {
		available := []int32{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11}
		b.ReportAllocs()
		for b.Loop() {
			s.Partition("events", 12, available)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Partition("events", 12, nil)
			}
		})
	})
	// Through the topic handle, without the lookup by name.
	b.Run("handle", func(b *testing.B) {
		t := s.Topic("events")
		b.ReportAllocs()
		for b.Loop() {
			t.Partition(12, nil)
		}
	})
	b.Run("handle-parallel", func(b *testing.B) {
		t := s.Topic("events")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t.Partition(12, nil)
			}
		})
	})
}

// BenchmarkStickyOnAppend reports appends to the current partition.
// "no-switch" counts bytes only; "switching" appends 100-byte records with a
// 16 KiB batch size, so about one call in 164 also chooses a new partition.
func BenchmarkStickyOnAppend(b *testing.B) {
	b.Run("no-switch", func(b *testing.B) {
		s := NewSticky(StickyConfig{BatchSize: math.MaxInt32})
		p := s.Partition("events", 12, nil)
		b.ReportAllocs()
		for b.Loop() {
			s.OnAppend("events", p, 1, false, 12, nil)
		}
	})
	b.Run("switching", func(b *testing.B) {
		s := newBenchSticky()
		t := s.Topic("events")
		p := s.Partition("events", 12, nil)
		b.ReportAllocs()
		for b.Loop() {
			s.OnAppend("events", p, 100, false, 12, nil)
			p = t.Current()
		}
	})
	b.Run("handle", func(b *testing.B) {
		s := NewSticky(StickyConfig{BatchSize: math.MaxInt32})
		t := s.Topic("events")
		p := t.Partition(12, nil)
		b.ReportAllocs()
		for b.Loop() {
			t.OnAppend(p, 1, false, 12, nil)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := newBenchSticky()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := s.Partition("events", 12, nil)
				s.OnAppend("events", p, 100, false, 12, nil)
			}
		})
	})
}

// BenchmarkStickySwitch measures choosing a new partition, the slow path
// taken once per batch.
func BenchmarkStickySwitch(b *testing.B) {
	for _, tc := range []struct {
		name     string
		adaptive bool
		n        int
	}{{"uniform-12", false, 12}, {"adaptive-12", true, 12}, {"adaptive-1000", true, 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			s := NewSticky(StickyConfig{BatchSize: 1, Adaptive: tc.adaptive})
			queues := make([]int32, tc.n)
			for i := range queues {
				queues[i] = int32(i % 7)
			}
			s.UpdateLoad("events", queues)
			p := s.Partition("events", tc.n, nil)
			b.ReportAllocs()
			for b.Loop() {
				s.OnAppend("events", p, 1, false, tc.n, nil)
				p = s.Current("events")
			}
		})
	}
}

func BenchmarkStickyUpdateLoad(b *testing.B) {
	s := newBenchSticky()
	queues := make([]int32, 100)
	for i := range queues {
		queues[i] = int32(i % 5)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.UpdateLoad("events", queues)
	}
}

func BenchmarkRoundRobin(b *testing.B) {
	rr := NewRoundRobin()
	b.ReportAllocs()
	for b.Loop() {
		rr.Partition("events", nil, nil, 12)
	}
}
