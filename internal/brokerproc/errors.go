package brokerproc

import "errors"

// Sentinel errors; everything this package returns wraps one of them, so
// callers classify with errors.Is.
var (
	// ErrNotChild reports that Serve was called in a process Start did not start.
	ErrNotChild = errors.New("brokerproc: not started by brokerproc.Start")

	// ErrSpec reports a Spec that cannot be run (or that did not survive the
	// trip through the environment).
	ErrSpec = errors.New("brokerproc: invalid spec")

	// ErrStart reports that the child did not come up: it exited, or did not
	// say where it listens within the start timeout.
	ErrStart = errors.New("brokerproc: broker process did not start")
)
