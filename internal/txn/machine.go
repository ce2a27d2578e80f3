package txn

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// transitions is the one table of valid state changes: transitions[from]
// has bit `to` set when from → to is allowed. AbortableError only leads
// to Aborting, and nothing leaves FatalError. FatalError itself is not in
// the table: it is entered through Machine.Fail, with the error that
// caused it, from any other state.
var transitions = [numStates]uint16{
	Uninitialized:  bits(Initializing),
	Initializing:   bits(Ready),
	Ready:          bits(InTransaction),
	InTransaction:  bits(Committing, Aborting, AbortableError),
	Committing:     bits(Ready, AbortableError),
	Aborting:       bits(Ready, Initializing),
	AbortableError: bits(Aborting),
	FatalError:     0,
}

func bits(states ...State) uint16 {
	var b uint16
	for _, s := range states {
		b |= 1 << uint(s)
	}
	return b
}

// allowed reports whether from → to is in the table.
func allowed(from, to State) bool {
	return from.valid() && to.valid() && transitions[from]&(1<<uint(to)) != 0
}

// Machine is the transaction state machine. Every valid transition is in
// one table; an invalid one is refused with a *StateError (matching
// ErrInvalidState). The producer's public calls drive it with Transition,
// and the sender reports failed records with Fail.
//
// A call that returns ErrTimeout leaves the state unchanged: the producer
// retries the same call without a new Transition.
//
// A Machine is safe for concurrent use; State does not lock and does not
// allocate, so it may be checked on every record.
type Machine struct {
	state atomic.Int32 // the current State; written under mu

	mu  sync.Mutex // serializes changes; guards err
	err error      // why the machine is in AbortableError or FatalError
}

// NewMachine returns a machine in Uninitialized.
func NewMachine() *Machine { return new(Machine) }

// State returns the current state.
func (m *Machine) State() State { return State(m.state.Load()) }

// Transition moves to `to` if the table allows it from the current state.
// Otherwise it returns a *StateError and the state is unchanged; in
// particular FatalError is only entered through Fail. Moving to
// AbortableError this way records ErrAbortable itself as the cause (Fail
// records a specific one). Leaving AbortableError forgets its error.
func (m *Machine) Transition(to State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := m.State()
	if !allowed(from, to) {
		return &StateError{From: from, To: to, Cause: m.err}
	}
	if to == AbortableError {
		m.err = ErrAbortable
	} else {
		m.err = nil
	}
	m.state.Store(int32(to))
	return nil
}

// Fail records err and moves to AbortableError (fatal false) or
// FatalError (fatal true). The recorded error wraps ErrAbortable, or
// ErrFenced / ErrFatal (ErrFatal is added unless err already wraps one of
// the two). An err that wraps ErrFenced or ErrFatal is fatal whatever
// fatal says.
//
// From FatalError nothing changes. A second abortable failure keeps the
// first error. An abortable failure while Aborting changes nothing: the
// transaction is being aborted already. With no transaction open
// (Uninitialized, Initializing, Ready) there is nothing to abort, so an
// abortable failure is treated as fatal.
func (m *Machine) Fail(err error, fatal bool) {
	if err == nil {
		err = errors.New("unspecified failure")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	from := m.State()
	switch {
	case from == FatalError:
		return
	case fatal, errors.Is(err, ErrFenced), errors.Is(err, ErrFatal):
	case from == AbortableError || from == Aborting:
		return
	case allowed(from, AbortableError):
		if !errors.Is(err, ErrAbortable) {
			err = fmt.Errorf("%w: %w", ErrAbortable, err)
		}
		m.err = err
		m.state.Store(int32(AbortableError))
		return
	}
	if !errors.Is(err, ErrFenced) && !errors.Is(err, ErrFatal) {
		err = fmt.Errorf("%w: %w", ErrFatal, err)
	}
	m.err = err
	m.state.Store(int32(FatalError))
}

// Err returns the error that put the machine in AbortableError or
// FatalError, or nil in any other state.
func (m *Machine) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}
