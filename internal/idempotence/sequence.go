package idempotence

import (
	"errors"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// NextSequence is the sequence after a batch of n records starting at seq;
// sequences wrap from MaxInt32 to 0, as brokers expect.
func NextSequence(seq int32, n int) int32 {
	next := int64(seq) + int64(n)
	if next > math.MaxInt32 {
		next -= math.MaxInt32 + 1
	}
	return int32(next)
}

// Action is what the sender does with a batch after a broker error.
type Action int8

// The actions a sequence-aware error classification can ask for.
const (
	// Retry the batch with its sequence unchanged.
	Retry Action = iota
	// Succeed: the broker already has the batch (a duplicate).
	Succeed
	// Reset: get a new producer id or epoch and restart sequences at 0, then
	// resend the batch.
	Reset
	// Fail the batch with the error (the producer carries on).
	Fail
	// Fatal: the producer cannot go on (fenced, or not authorized).
	Fatal
)

// Classify maps a produce error of an idempotent batch to an action.
// earlierUnresolved says whether an earlier batch of the same partition is
// still in flight or waiting for a retry: an out-of-order sequence is then
// expected (the earlier batch has not landed yet) and the batch is retried.
func Classify(err error, earlierUnresolved bool) Action {
	switch {
	case errors.Is(err, kerr.DuplicateSequenceNumber):
		return Succeed
	case errors.Is(err, kerr.OutOfOrderSequenceNumber):
		if earlierUnresolved {
			return Retry
		}
		return Reset
	case errors.Is(err, kerr.UnknownProducerID):
		return Reset
	case errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.ProducerFenced),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.InvalidProducerIDMapping):
		return Fatal
	case kerr.IsRetriable(err), errors.Is(err, kerr.ConcurrentTransactions):
		// CONCURRENT_TRANSACTIONS on Produce (transactions v2): the
		// leader's implicit add of the partition raced another at the
		// coordinator; the batch was not written and may go again.
		return Retry
	}
	return Fail
}
