package interop

import "errors"

// Sentinel errors; everything this package returns wraps one of them (or a
// context error), so callers classify with errors.Is.
var (
	// ErrNoKcat reports that no kcat (or kafkacat) binary is on PATH.
	ErrNoKcat = errors.New("interop: kcat not installed")

	// ErrKcat reports that kcat ran but failed; the message carries its stderr.
	ErrKcat = errors.New("interop: kcat failed")

	// ErrMalformed reports a line of kcat output that is not the JSON
	// envelope ParseLine understands.
	ErrMalformed = errors.New("interop: malformed kcat line")
)
