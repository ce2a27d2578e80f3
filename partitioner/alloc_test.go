package partitioner

import (
	"testing"
	"time"
)

// The per-record calls must not allocate once a topic has been seen; these
// tests fail if they start to.
func TestHotPathsDoNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters change allocation counts")
	}
	key := []byte("customer-0042")
	available := []int32{0, 2, 3, 5}
	queues := []int32{3, 0, 9, 1, 0, 4}

	s := NewSticky(StickyConfig{BatchSize: 100, Adaptive: true, AvailabilityTimeout: time.Second})
	s.Partition("t", 6, nil)
	s.UpdateLoad("t", queues)
	s.SetUnavailable("t", 1, true)

	topic := s.Topic("t")

	rr := NewRoundRobin()
	rr.Partition("t", nil, nil, 6)
	h := Hash()
	h.Partition("t", nil, nil, 6)

	tests := []struct {
		name string
		f    func()
	}{
		{"Murmur2", func() { Murmur2(key) }},
		{"KeyPartition", func() { KeyPartition(key, 6) }},
		{"Sticky.Partition", func() { s.Partition("t", 6, nil) }},
		{"Sticky.Partition with available", func() { s.Partition("t", 6, available) }},
		{"Sticky.OnAppend without switch", func() {
			p := s.Partition("t", 6, nil)
			s.OnAppend("t", p, 1, false, 6, nil)
		}},
		{"Sticky.OnAppend with switch", func() {
			p := s.Partition("t", 6, available)
			s.OnAppend("t", p, 1000, false, 6, available)
		}},
		{"Sticky.UpdateLoad", func() { s.UpdateLoad("t", queues) }},
		{"Sticky.SetUnavailable toggle", func() { s.SetUnavailable("t", 1, false); s.SetUnavailable("t", 1, true) }},
		{"Sticky.Current", func() { s.Current("t") }},
		{"StickyTopic.Partition", func() { topic.Partition(6, nil) }},
		{"StickyTopic.OnAppend", func() { topic.OnAppend(topic.Partition(6, nil), 7, false, 6, nil) }},
		{"RoundRobin", func() { rr.Partition("t", nil, nil, 6) }},
		{"Hash keyed", func() { h.Partition("t", key, nil, 6) }},
		{"Hash nil key", func() { h.Partition("t", nil, nil, 6) }},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(200, tt.f); allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, allocs)
		}
	}
}
