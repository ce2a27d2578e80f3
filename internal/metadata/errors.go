package metadata

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrUnknownTopic reports a topic a broker answered it does not have
// (UNKNOWN_TOPIC_OR_PARTITION); a topic no broker could be asked about
// is not reported with it. It matches kerr.UnknownTopicOrPartition with
// errors.Is as well.
var ErrUnknownTopic error = &aliasError{msg: "metadata: unknown topic", alias: kerr.UnknownTopicOrPartition}

// ErrClosed reports a call on a client after Close.
var ErrClosed = errors.New("metadata: client closed")

// aliasError is a sentinel that also matches another error.
type aliasError struct {
	msg   string
	alias error
}

func (e *aliasError) Error() string { return e.msg }

// Is reports whether target is the error this one stands for.
func (e *aliasError) Is(target error) bool { return target == e.alias }
