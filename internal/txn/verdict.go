package txn

import (
	"errors"
	"fmt"

	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
)

// verdict is what one attempt's outcome asks the retry loop to do. The
// values are ordered by severity, so the worst of several per-partition
// verdicts is their maximum.
type verdict int8

const (
	vOK         verdict = iota
	vRetry              // try again after RetryBackoff
	vRetrySoon          // CONCURRENT_TRANSACTIONS: try again after the short backoff
	vRediscover         // the coordinator moved or is gone: look it up again, then retry
	vAbortable          // the transaction cannot commit
	vFatal              // give up for good
	vFenced             // another producer took over, or the epoch is invalid
)

func (v verdict) String() string {
	switch v {
	case vOK:
		return "ok"
	case vRetry:
		return "retry"
	case vRetrySoon:
		return "retry soon"
	case vRediscover:
		return "rediscover coordinator"
	case vAbortable:
		return "abortable"
	case vFatal:
		return "fatal"
	case vFenced:
		return "fenced"
	}
	return "unknown"
}

// final reports whether the loop stops on v.
func (v verdict) final() bool { return v == vOK || v >= vAbortable }

// classify maps a broker error code (as a kerr error; nil for none) to a
// verdict, as every coordinator request of a transaction sees it. Request
// specific codes are mapped by the callers before falling back to this.
func classify(err error) verdict {
	switch {
	case err == nil:
		return vOK
	case errors.Is(err, kerr.ConcurrentTransactions):
		return vRetrySoon
	case errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.CoordinatorNotAvailable):
		return vRediscover
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return vFenced
	case errors.Is(err, kerr.TransactionAbortable):
		return vAbortable
	case kerr.IsRetriable(err):
		// COORDINATOR_LOAD_IN_PROGRESS, REQUEST_TIMED_OUT,
		// UNKNOWN_TOPIC_OR_PARTITION and friends.
		return vRetry
	}
	// INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING, UNKNOWN_PRODUCER_ID,
	// INVALID_TRANSACTION_TIMEOUT, CLUSTER_AUTHORIZATION_FAILED, ...
	return vFatal
}

// transportVerdict classifies an error from getting a connection or from
// a request on it. The connection may be to a broker that is no longer
// the coordinator, so the coordinator is looked up again; only errors no
// retry can fix are final.
func transportVerdict(err error) verdict {
	switch {
	case errors.Is(err, wire.ErrPoolClosed), errors.Is(err, wire.ErrUnsupportedVersion),
		errors.Is(err, wire.ErrInvalidConfig):
		return vFatal
	}
	return vRediscover
}

// failures collects per-partition failures of one response, keeping the
// worst verdict and the errors that led to it.
type failures struct {
	worst verdict
	first error // the first failure with the worst verdict
	more  int   // how many more share that verdict
}

func (f *failures) note(v verdict, topic string, partition int32, err error) {
	if topic != "" {
		err = fmt.Errorf("%s[%d]: %w", topic, partition, err)
	}
	switch {
	case v > f.worst:
		f.worst, f.first, f.more = v, err, 0
	case v == f.worst && v != vOK:
		f.more++
	}
}

func (f *failures) result() (verdict, error) {
	if f.worst == vOK {
		return vOK, nil
	}
	if f.more > 0 {
		return f.worst, fmt.Errorf("%w (and %d more)", f.first, f.more)
	}
	return f.worst, f.first
}
