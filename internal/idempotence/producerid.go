package idempotence

import (
	"context"
	"errors"
	"fmt"
	"time"

	retry "github.com/kprod/kprod/internal/backoff" // named apart from Init's backoff parameter
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ID is a producer id with its epoch, as the broker assigned them.
type ID struct {
	ProducerID int64
	Epoch      int16
}

// None is the id of a producer without one: batches carry -1 / -1.
var None = ID{ProducerID: -1, Epoch: -1}

// Valid reports whether the id came from the cluster.
func (id ID) Valid() bool { return id.ProducerID >= 0 }

func (id ID) String() string { return fmt.Sprintf("producer id %d epoch %d", id.ProducerID, id.Epoch) }

// Requester sends one request and waits for its response.
type Requester func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)

// ErrInit wraps a non-retriable failure to obtain a producer id.
var ErrInit = errors.New("idempotence: cannot obtain producer id")

// InitRequest is the InitProducerId request for a producer: txnID nil for
// a plain idempotent producer; current, when valid, asks for a new epoch of
// that id rather than a new id (v3+), so the broker can tell the new
// epoch's batches from the old ones. Every InitProducerId the producer
// sends, transactional or not, is built here.
func InitRequest(txnID *string, txnTimeout time.Duration, current ID) *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = txnID
	req.TransactionTimeoutMillis = int32(txnTimeout / time.Millisecond)
	if current.Valid() {
		req.ProducerID, req.ProducerEpoch = current.ProducerID, current.Epoch
	}
	return req
}

// InitAnswer reads an InitProducerId response: the id, or the broker's
// error (a kerr error).
func InitAnswer(resp *kmsg.InitProducerIDResponse) (ID, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return None, err
	}
	return ID{ProducerID: resp.ProducerID, Epoch: resp.ProducerEpoch}, nil
}

// Init obtains a producer id for a producer without a transactional id,
// from any broker (do picks one). A transactional producer gets its id from
// its transaction coordinator instead, with the same request (InitRequest).
// A valid current id asks for a new epoch of it; if the broker refuses the
// bump, Init starts over with a fresh id.
//
// Retriable broker errors are retried with backoff until ctx ends; other
// errors are returned wrapping ErrInit and the broker's kerr error.
func Init(ctx context.Context, do Requester, txnTimeout time.Duration, current ID, backoff time.Duration) (ID, error) {
	for {
		resp, err := do(ctx, InitRequest(nil, txnTimeout, current))
		var retriable bool
		if err == nil {
			var id ID
			if id, err = InitAnswer(resp.(*kmsg.InitProducerIDResponse)); err == nil {
				return id, nil
			}
			retriable = kerr.IsRetriable(err) || errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.ConcurrentTransactions)
			if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) {
				// The bump was refused: start over with a fresh id.
				current, retriable = None, true
			}
		} else {
			retriable = ctx.Err() == nil
		}
		if !retriable {
			return None, fmt.Errorf("%w: %w", ErrInit, err)
		}
		if serr := retry.Sleep(ctx, backoff); serr != nil {
			return None, fmt.Errorf("%w: %w (last error: %w)", ErrInit, serr, err)
		}
	}
}
