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

// Init asks for a producer id with InitProducerId. With a valid current id
// and a broker that supports it (v3+), it asks to bump that id's epoch
// instead of starting over, so the broker can tell the new epoch's batches
// from the old ones. txnID is nil for a plain idempotent producer.
//
// Retriable broker errors are retried with backoff until ctx ends; other
// errors are returned wrapping ErrInit and the broker's kerr error.
func Init(ctx context.Context, do Requester, txnID *string, txnTimeout time.Duration, current ID, backoff time.Duration) (ID, error) {
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = txnID
		req.TransactionTimeoutMillis = int32(txnTimeout / time.Millisecond)
		req.ProducerID, req.ProducerEpoch = current.ProducerID, current.Epoch
		resp, err := do(ctx, req)
		var retriable bool
		if err == nil {
			r := resp.(*kmsg.InitProducerIDResponse)
			if err = kerr.ErrorForCode(r.ErrorCode); err == nil {
				return ID{ProducerID: r.ProducerID, Epoch: r.ProducerEpoch}, nil
			}
			retriable = kerr.IsRetriable(err) || errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.ConcurrentTransactions)
			if txnID == nil && (errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced)) {
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
