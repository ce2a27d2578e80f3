package txn

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// the producer classifies failures with errors.Is. Broker error codes are
// wrapped as well (as kerr errors) where one was the cause.
var (
	// ErrFenced reports that another producer with the same
	// transactional id took over (it bumped the epoch), that the epoch
	// is otherwise invalid, or that the transactional id is not
	// authorized. It is fatal: every later call fails.
	ErrFenced = errors.New("txn: producer fenced")

	// ErrAbortable reports that the open transaction cannot commit (a
	// record, an AddPartitionsToTxn or an offset commit failed). The
	// producer aborts it and carries on with the next one.
	ErrAbortable = errors.New("txn: transaction must be aborted")

	// ErrTimeout reports that the call's context ended before the
	// coordinator gave a definitive answer. Retrying the same call (same
	// producer id and epoch, same commit or abort decision) is safe.
	ErrTimeout = errors.New("txn: timed out waiting for the coordinator")

	// ErrInvalidState reports a call out of order, such as a commit
	// without a begun transaction. The error is a *StateError naming the
	// states involved.
	ErrInvalidState = errors.New("txn: invalid state transition")

	// ErrAborted is what the records of an aborted transaction fail with.
	ErrAborted = errors.New("txn: transaction aborted")

	// ErrFatal reports any other error the transactional producer cannot
	// recover from; it wraps the cause.
	ErrFatal = errors.New("txn: fatal error")

	// ErrInvalidConfig reports a Config value that cannot be used.
	ErrInvalidConfig = errors.New("txn: invalid config")

	// ErrInvalidArgument reports a call with arguments no broker could
	// accept: a producer id that did not come from InitProducerID, an
	// empty topic or group name, a negative partition.
	ErrInvalidArgument = errors.New("txn: invalid argument")
)

// StateError is the error of a refused state transition. It matches
// ErrInvalidState with errors.Is and, when the machine sits in
// AbortableError or FatalError, also the error that put it there, so a
// commit refused after a failed record still matches ErrAbortable.
type StateError struct {
	From, To State
	Cause    error // why the machine is in From when From is an error state; else nil
}

// Error names both states and the cause, if any.
func (e *StateError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("txn: invalid state transition from %s to %s: %v", e.From, e.To, e.Cause)
	}
	return fmt.Sprintf("txn: invalid state transition from %s to %s", e.From, e.To)
}

// Unwrap returns ErrInvalidState and the cause.
func (e *StateError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrInvalidState, e.Cause}
	}
	return []error{ErrInvalidState}
}
