package wire

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors, for classifying failures with errors.Is. Errors also
// wrap their underlying cause where there is one — a network error, a kerr
// broker error, a context error — so errors.Is and errors.As reach it too.
var (
	// ErrClosed reports that the connection died or was closed; requests
	// that were in flight on it failed with an error wrapping it.
	ErrClosed = errors.New("wire: connection closed")

	// ErrRequestTimeout reports that a request's response did not arrive
	// within its timeout; the connection was closed because of it.
	ErrRequestTimeout = errors.New("wire: request timed out")

	// ErrNotReady reports that no live connection is available yet; a dial
	// is running or the broker is in reconnect backoff.
	ErrNotReady = errors.New("wire: connection not ready")

	// ErrUnsupportedVersion reports that the broker does not support the
	// request at any version both sides know.
	ErrUnsupportedVersion = errors.New("wire: request not supported by broker")

	// ErrSASL reports a failed SASL handshake or authentication.
	ErrSASL = errors.New("wire: SASL authentication failed")

	// ErrTLS reports a failed TLS handshake, including certificate
	// verification failures.
	ErrTLS = errors.New("wire: TLS handshake failed")

	// ErrInvalidAddress reports a broker address that is not host:port.
	ErrInvalidAddress = errors.New("wire: invalid broker address")

	// ErrInvalidConfig reports a Config value that cannot be used.
	ErrInvalidConfig = errors.New("wire: invalid config")

	// ErrMalformedResponse reports bytes from the broker that are not a
	// valid response to what was asked: a bad frame size, an unexpected
	// correlation id, or a body that does not parse.
	ErrMalformedResponse = errors.New("wire: malformed response")

	// ErrUnknownBroker reports a node id the pool has no address for.
	ErrUnknownBroker = errors.New("wire: unknown broker")

	// ErrPoolClosed reports a call on a pool after Close.
	ErrPoolClosed = errors.New("wire: pool closed")
)

// NotReadyError is what [Pool.Ready] returns when it has no live
// connection: either a dial is running, or the broker is in reconnect
// backoff until RetryAt. It matches ErrNotReady with errors.Is, and unwraps
// to the last dial error while backing off.
type NotReadyError struct {
	Node    int32     // broker node id
	Addr    string    // broker host:port
	Purpose Purpose   // which of the broker's connections
	Dialing bool      // a dial is running; OnChange fires when it ends
	RetryAt time.Time // when backing off: the earliest time a new dial starts
	Err     error     // when backing off: why the last dial failed or the conn died
}

// Error describes the state.
func (e *NotReadyError) Error() string {
	if e.Dialing {
		return fmt.Sprintf("wire: %s connection to broker %d (%s) not ready: dialing", e.Purpose, e.Node, e.Addr)
	}
	if e.Err != nil {
		return fmt.Sprintf("wire: %s connection to broker %d (%s) not ready: backing off until %s after: %v",
			e.Purpose, e.Node, e.Addr, e.RetryAt.Format(time.RFC3339Nano), e.Err)
	}
	return fmt.Sprintf("wire: %s connection to broker %d (%s) not ready: backing off until %s",
		e.Purpose, e.Node, e.Addr, e.RetryAt.Format(time.RFC3339Nano))
}

// Is reports whether target is ErrNotReady.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// Unwrap returns the last dial error, if any.
func (e *NotReadyError) Unwrap() error { return e.Err }
