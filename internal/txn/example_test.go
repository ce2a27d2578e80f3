package txn_test

import (
	"errors"
	"fmt"

	"github.com/kprod/kprod/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The producer drives the machine from its public calls; the sender
// reports a failed record with Fail. A commit is then refused with the
// reason, and an abort brings the producer back to Ready.
func ExampleMachine() {
	m := txn.NewMachine()
	for _, s := range []txn.State{txn.Initializing, txn.Ready, txn.InTransaction} {
		if err := m.Transition(s); err != nil {
			fmt.Println(err)
		}
	}
	m.Fail(kerr.TopicAuthorizationFailed, false)
	fmt.Println(m.State())

	err := m.Transition(txn.Committing)
	fmt.Println(errors.Is(err, txn.ErrInvalidState), errors.Is(err, txn.ErrAbortable))

	_ = m.Transition(txn.Aborting)
	_ = m.Transition(txn.Ready)
	fmt.Println(m.State(), m.Err())
	// Output:
	// AbortableError
	// true true
	// Ready <nil>
}

// PartitionSet tracks, in the classic flow, which partitions the open
// transaction already has; only new ones go to AddPartitions.
func ExamplePartitionSet() {
	var added txn.PartitionSet
	added.AddAll(map[string][]int32{"orders": {0, 1}})

	var need txn.PartitionSet
	for _, p := range []int32{1, 2, 3} {
		if !added.Has("orders", p) {
			need.Add("orders", p)
		}
	}
	fmt.Println(need.Map())
	// After AddPartitions(ctx, id, need.Map()) succeeded:
	added.AddAll(need.Map())
	fmt.Println(added.Len())
	// Output:
	// map[orders:[2 3]]
	// 4
}
