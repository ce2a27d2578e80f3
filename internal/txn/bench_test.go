package txn

import (
	"context"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
)

// BenchmarkMachineState is the per-record check of the transaction state.
func BenchmarkMachineState(b *testing.B) {
	m := machineIn(InTransaction)
	b.ReportAllocs()
	var s State
	for b.Loop() {
		s = m.State()
	}
	if s != InTransaction {
		b.Fatal(s)
	}
}

// BenchmarkMachineCycle is one transaction's transitions: begin, commit,
// back to ready.
func BenchmarkMachineCycle(b *testing.B) {
	m := machineIn(Ready)
	b.ReportAllocs()
	for b.Loop() {
		if m.Transition(InTransaction) != nil || m.Transition(Committing) != nil || m.Transition(Ready) != nil {
			b.Fatal("transition refused")
		}
	}
}

// BenchmarkMachineStateParallel checks the state from every core while
// the state does not change, as producer goroutines do on Send.
func BenchmarkMachineStateParallel(b *testing.B) {
	m := machineIn(InTransaction)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.State() != InTransaction {
				b.Fatal("state changed")
			}
		}
	})
}

// BenchmarkPartitionSetHas is the sender's per-batch question in the
// classic flow: was this partition added to the transaction yet?
func BenchmarkPartitionSetHas(b *testing.B) {
	var s PartitionSet
	for p := range int32(64) {
		s.Add("orders", p)
		s.Add("payments", p)
	}
	b.ReportAllocs()
	var p int32
	for b.Loop() {
		if !s.Has("payments", p&63) {
			b.Fatal("missing")
		}
		p++
	}
}

// BenchmarkPartitionSetCycle adds a transaction's partitions and resets
// the set for the next one; after the first transaction the memory is
// reused.
func BenchmarkPartitionSetCycle(b *testing.B) {
	var s PartitionSet
	b.ReportAllocs()
	for b.Loop() {
		for p := range int32(16) {
			s.Add("orders", p)
		}
		s.Reset()
	}
}

// BenchmarkEndTxnFake is one EndTxn through the client against the
// scripted coordinator (no network): the client's own cost per call.
func BenchmarkEndTxnFake(b *testing.B) {
	f := newFakeCluster(true)
	c := newClient(f, Config{TransactionalID: "t", RetryBackoff: time.Millisecond})
	ctx := context.Background()
	id, err := c.InitProducerID(ctx, idempotence.None)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		next, err := c.EndTxn(ctx, id, true)
		if err != nil {
			b.Fatal(err)
		}
		id = next
		f.mu.Lock()
		f.sent = f.sent[:0]
		f.mu.Unlock()
	}
}
