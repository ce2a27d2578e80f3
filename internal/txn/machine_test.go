package txn

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var allStates = []State{Uninitialized, Initializing, Ready, InTransaction, Committing, Aborting, AbortableError, FatalError}

// wantAllowed is the transition table written out independently of the
// one in machine.go.
var wantAllowed = map[[2]State]bool{
	{Uninitialized, Initializing}:   true,
	{Initializing, Ready}:           true,
	{Ready, InTransaction}:          true,
	{InTransaction, Committing}:     true,
	{InTransaction, Aborting}:       true,
	{InTransaction, AbortableError}: true,
	{Committing, Ready}:             true,
	{Committing, AbortableError}:    true,
	{Aborting, Ready}:               true,
	{Aborting, Initializing}:        true,
	{AbortableError, Aborting}:      true,
}

// machineIn returns a machine forced into s (with a cause for the error
// states).
func machineIn(s State) *Machine {
	m := NewMachine()
	m.state.Store(int32(s))
	switch s {
	case AbortableError:
		m.err = fmt.Errorf("%w: record failed", ErrAbortable)
	case FatalError:
		m.err = fmt.Errorf("%w: boom", ErrFatal)
	}
	return m
}

func TestTransitionTableEveryPair(t *testing.T) {
	for _, from := range allStates {
		for _, to := range append(allStates, State(-1), State(numStates), State(100)) {
			t.Run(fmt.Sprintf("%s_to_%s", from, to), func(t *testing.T) {
				m := machineIn(from)
				err := m.Transition(to)
				if wantAllowed[[2]State{from, to}] {
					if err != nil {
						t.Fatalf("Transition(%s) from %s = %v, want nil", to, from, err)
					}
					if got := m.State(); got != to {
						t.Fatalf("state = %s, want %s", got, to)
					}
					return
				}
				if !errors.Is(err, ErrInvalidState) {
					t.Fatalf("Transition(%s) from %s = %v, want ErrInvalidState", to, from, err)
				}
				var se *StateError
				if !errors.As(err, &se) || se.From != from || se.To != to {
					t.Fatalf("error %v is not a StateError from %s to %s", err, from, to)
				}
				if got := m.State(); got != from {
					t.Fatalf("refused transition changed state to %s", got)
				}
			})
		}
	}
}

func TestFatalErrorIsTerminal(t *testing.T) {
	m := machineIn(FatalError)
	for _, to := range allStates {
		if err := m.Transition(to); !errors.Is(err, ErrInvalidState) || !errors.Is(err, ErrFatal) {
			t.Fatalf("Transition(%s) from FatalError = %v, want ErrInvalidState wrapping the fatal cause", to, err)
		}
	}
	m.Fail(errors.New("later"), false)
	m.Fail(errors.New("later"), true)
	if m.State() != FatalError || m.Err().Error() != "txn: fatal error: boom" {
		t.Fatalf("Fail changed a FatalError machine: %s, %v", m.State(), m.Err())
	}
}

func TestAbortableErrorOnlyAllowsAborting(t *testing.T) {
	for _, to := range allStates {
		m := machineIn(AbortableError)
		err := m.Transition(to)
		if to == Aborting {
			if err != nil || m.Err() != nil {
				t.Fatalf("Transition(Aborting) = %v, Err %v; want nil, nil", err, m.Err())
			}
			continue
		}
		// A refused call carries the abortable cause, so the producer's
		// CommitTransaction after a failed record says why.
		if !errors.Is(err, ErrInvalidState) || !errors.Is(err, ErrAbortable) {
			t.Fatalf("Transition(%s) from AbortableError = %v, want ErrInvalidState and ErrAbortable", to, err)
		}
	}
}

func TestFail(t *testing.T) {
	fenced := fmt.Errorf("%w: epoch 3", ErrFenced)
	plain := kerr.TopicAuthorizationFailed
	for _, tc := range []struct {
		from      State
		err       error
		fatal     bool
		wantState State
		wantIs    []error // errors.Is targets of Err(); nil Err when empty
	}{
		{InTransaction, plain, false, AbortableError, []error{ErrAbortable, kerr.TopicAuthorizationFailed}},
		{Committing, plain, false, AbortableError, []error{ErrAbortable, kerr.TopicAuthorizationFailed}},
		{InTransaction, fenced, true, FatalError, []error{ErrFenced}},
		{InTransaction, plain, true, FatalError, []error{ErrFatal, kerr.TopicAuthorizationFailed}},
		{Ready, fenced, true, FatalError, []error{ErrFenced}},
		{Uninitialized, plain, true, FatalError, []error{ErrFatal}},
		{AbortableError, fenced, true, FatalError, []error{ErrFenced}},
		{Aborting, plain, true, FatalError, []error{ErrFatal}},
		// Aborting already: a late record failure changes nothing.
		{Aborting, plain, false, Aborting, nil},
		// Already abortable: the first error stays.
		{AbortableError, kerr.InvalidRecord, false, AbortableError, []error{ErrAbortable}},
		// No transaction to abort: escalates.
		{Ready, plain, false, FatalError, []error{ErrFatal, kerr.TopicAuthorizationFailed}},
		{Initializing, plain, false, FatalError, []error{ErrFatal}},
		{Uninitialized, nil, false, FatalError, []error{ErrFatal}},
		// A fenced error is fatal even when reported as abortable.
		{InTransaction, fenced, false, FatalError, []error{ErrFenced}},
		{Aborting, fmt.Errorf("%w: x", ErrFatal), false, FatalError, []error{ErrFatal}},
	} {
		t.Run(fmt.Sprintf("%s_fatal=%v_%v", tc.from, tc.fatal, tc.err), func(t *testing.T) {
			m := machineIn(tc.from)
			before := m.Err()
			m.Fail(tc.err, tc.fatal)
			if got := m.State(); got != tc.wantState {
				t.Fatalf("state = %s, want %s", got, tc.wantState)
			}
			if len(tc.wantIs) == 0 {
				if m.Err() != before {
					t.Fatalf("Err = %v, want unchanged %v", m.Err(), before)
				}
				return
			}
			for _, target := range tc.wantIs {
				if !errors.Is(m.Err(), target) {
					t.Fatalf("Err = %v, does not match %v", m.Err(), target)
				}
			}
			if tc.from == AbortableError && tc.wantState == AbortableError && m.Err() != before {
				t.Fatalf("second abortable failure replaced the first: %v", m.Err())
			}
		})
	}
}

func TestErrClearedWhenLeavingAbortable(t *testing.T) {
	m := NewMachine()
	for _, s := range []State{Initializing, Ready, InTransaction} {
		if err := m.Transition(s); err != nil {
			t.Fatal(err)
		}
	}
	m.Fail(kerr.TopicAuthorizationFailed, false)
	if !errors.Is(m.Err(), ErrAbortable) {
		t.Fatalf("Err = %v", m.Err())
	}
	for _, s := range []State{Aborting, Ready} {
		if err := m.Transition(s); err != nil {
			t.Fatal(err)
		}
	}
	if m.Err() != nil {
		t.Fatalf("Err after abort = %v, want nil", m.Err())
	}
	if err := m.Transition(AbortableError); err == nil {
		t.Fatal("Ready → AbortableError allowed")
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		Uninitialized: "Uninitialized", Initializing: "Initializing", Ready: "Ready",
		InTransaction: "InTransaction", Committing: "Committing", Aborting: "Aborting",
		AbortableError: "AbortableError", FatalError: "FatalError", State(9): "State(9)", State(-2): "State(-2)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// TestMachineConcurrent races transitions, failures and reads; run with
// -race. The machine must end in a state the table can reach and never
// lose FatalError once entered.
func TestMachineConcurrent(t *testing.T) {
	m := NewMachine()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				to := allStates[(g+i)%len(allStates)]
				_ = m.Transition(to)
				if i%97 == 0 {
					m.Fail(errors.New("x"), false)
				}
				_ = m.State()
				_ = m.Err()
			}
		})
	}
	wg.Wait()
	if s := m.State(); !s.valid() {
		t.Fatalf("invalid state %d", s)
	}
	m.Fail(errors.New("end"), true)
	if m.State() != FatalError {
		t.Fatal("not fatal after Fail(fatal)")
	}
}
