package wire

import "strconv"

// Purpose selects one of the connections kept to each broker, so that
// produce requests never queue behind metadata or transaction requests on
// the same socket.
type Purpose int8

const (
	// Produce is the connection the sender writes produce requests to.
	Produce Purpose = iota
	// Control carries everything else: metadata, coordinators,
	// transactions, producer ids.
	Control

	numPurposes = 2
)

// String returns "produce" or "control".
func (p Purpose) String() string {
	switch p {
	case Produce:
		return "produce"
	case Control:
		return "control"
	}
	return "purpose(" + strconv.Itoa(int(p)) + ")"
}

func (p Purpose) valid() bool { return p >= 0 && p < numPurposes }
