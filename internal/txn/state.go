package txn

import "strconv"

// State is where a transactional producer stands.
type State int8

// The states of a transactional producer.
const (
	// Uninitialized: no producer id yet; InitTransactions comes first.
	Uninitialized State = iota
	// Initializing: InitProducerId is running (first time, or to bump
	// the epoch after an abort).
	Initializing
	// Ready: a producer id is held and no transaction is open.
	Ready
	// InTransaction: a transaction is open; records and offsets join it.
	InTransaction
	// Committing: EndTxn(commit) runs once every record is acknowledged.
	Committing
	// Aborting: EndTxn(abort) runs; pending records fail with ErrAborted.
	Aborting
	// AbortableError: the open transaction cannot commit; only an abort
	// leaves this state.
	AbortableError
	// FatalError: nothing leaves this state; the producer must be closed.
	FatalError

	numStates = int(FatalError) + 1
)

var stateNames = [numStates]string{
	Uninitialized:  "Uninitialized",
	Initializing:   "Initializing",
	Ready:          "Ready",
	InTransaction:  "InTransaction",
	Committing:     "Committing",
	Aborting:       "Aborting",
	AbortableError: "AbortableError",
	FatalError:     "FatalError",
}

// String returns the state's name, or "State(n)" for a value out of range.
func (s State) String() string {
	if s.valid() {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

func (s State) valid() bool { return s >= 0 && int(s) < numStates }
