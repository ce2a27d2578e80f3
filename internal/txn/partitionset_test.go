package txn

import (
	"maps"
	"slices"
	"testing"
)

func TestPartitionSet(t *testing.T) {
	var s PartitionSet
	if s.Has("a", 0) || s.Len() != 0 || len(s.Map()) != 0 || s.Remove("a", 0) {
		t.Fatal("zero set not empty")
	}
	for _, step := range []struct {
		op        string
		topic     string
		partition int32
		want      bool
		wantLen   int
	}{
		{"add", "a", 0, true, 1},
		{"add", "a", 0, false, 1},
		{"add", "a", 2, true, 2},
		{"add", "b", 1, true, 3},
		{"has", "a", 2, true, 3},
		{"has", "a", 1, false, 3},
		{"has", "c", 0, false, 3},
		{"remove", "a", 0, true, 2},
		{"remove", "a", 0, false, 2},
		{"remove", "c", 0, false, 2},
		{"has", "a", 0, false, 2},
	} {
		var got bool
		switch step.op {
		case "add":
			got = s.Add(step.topic, step.partition)
		case "has":
			got = s.Has(step.topic, step.partition)
		case "remove":
			got = s.Remove(step.topic, step.partition)
		}
		if got != step.want || s.Len() != step.wantLen {
			t.Fatalf("%s(%s, %d) = %v, len %d; want %v, len %d", step.op, step.topic, step.partition, got, s.Len(), step.want, step.wantLen)
		}
	}
	s.AddAll(map[string][]int32{"b": {3, 1}, "d": {0}})
	want := map[string][]int32{"a": {2}, "b": {1, 3}, "d": {0}}
	if got := s.Map(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Map() = %v, want %v", got, want)
	}
	if got := s.sorted(); len(got) != 3 || got[0].topic != "a" || got[1].topic != "b" || got[2].topic != "d" {
		t.Fatalf("sorted() = %v", got)
	}
	s.Reset()
	if s.Len() != 0 || s.Has("b", 1) || len(s.Map()) != 0 {
		t.Fatalf("Reset left %v", s.Map())
	}
	// Reused after a reset without allocating.
	if n := testing.AllocsPerRun(100, func() {
		s.Add("b", 1)
		s.Add("a", 2)
		s.Reset()
	}); n != 0 {
		t.Fatalf("%v allocations per reused cycle", n)
	}
}

func TestStateErrorText(t *testing.T) {
	err := machineIn(Ready).Transition(Committing)
	if got, want := err.Error(), "txn: invalid state transition from Ready to Committing"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	err = machineIn(AbortableError).Transition(Committing)
	if got, want := err.Error(), "txn: invalid state transition from AbortableError to Committing: txn: transaction must be aborted: record failed"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
