package txn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/kprod/kprod/internal/backoff"
	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/wire"
)

// Client talks to the transaction coordinator of one transactional id and
// to the group coordinators of the groups whose offsets join its
// transactions. It finds them with FindCoordinator, follows them when they
// move, and retries what the protocol says is retriable.
//
// Every method blocks until the coordinator answered definitively or ctx
// ends; then the error wraps ErrTimeout and ctx's error, and the same call
// may be made again. Errors otherwise wrap ErrFenced, ErrAbortable or
// ErrFatal (or ErrInvalidConfig). A Client is safe for concurrent use,
// though the producer makes one call at a time.
type Client struct {
	dial  dialer
	cfg   Config // defaults applied
	bad   error  // why cfg cannot be used; every call returns it
	log   *slog.Logger
	txnID string

	v2 atomic.Bool // the coordinator speaks transactions v2; set by InitProducerID

	mu     sync.Mutex         // guards the fields below
	coords map[coordKey]coord // known coordinators
	unsure *endAttempt        // an EndTxn whose outcome is unknown (its response was lost)
}

// coordKey names a coordinator: of a transactional id or of a group.
type coordKey struct {
	typ int8 // FindCoordinator key type: coordGroup or coordTxn
	key string
}

// FindCoordinator key types.
const (
	coordGroup int8 = 0
	coordTxn   int8 = 1
)

// coord is a coordinator as FindCoordinator reported it.
type coord struct {
	node int32
	addr string // host:port
}

// endAttempt is an EndTxn that was sent but not answered.
type endAttempt struct {
	id     idempotence.ID
	commit bool
}

// NewClient returns a client that reaches the cluster through pool, which
// must stay open while the client is used. A Config that does not
// validate makes every call fail with the validation error.
func NewClient(pool *wire.Pool, cfg Config) *Client {
	c := newClient(poolDialer{pool: pool}, cfg)
	if pool == nil && c.bad == nil {
		c.bad = fmt.Errorf("%w: nil pool", ErrInvalidConfig)
	}
	return c
}

func newClient(d dialer, cfg Config) *Client {
	bad := cfg.Validate()
	cfg = cfg.withDefaults()
	return &Client{
		dial:   d,
		cfg:    cfg,
		bad:    bad,
		log:    cfg.Logger.With("transactional_id", cfg.TransactionalID),
		txnID:  cfg.TransactionalID,
		coords: make(map[coordKey]coord),
	}
}

// V2 reports whether the transaction coordinator speaks transactions v2
// (KIP-890: EndTxn v5+ and the cluster's transaction.version feature at 2
// or more). With it, partitions join a transaction implicitly through
// Produce v12+ (the producer checks the Produce version itself), offsets
// through TxnOffsetCommit v5+, and each EndTxn returns a new epoch. Valid
// after InitProducerID.
func (c *Client) V2() bool { return c.v2.Load() }

// Coordinator returns the node id of the current transaction coordinator,
// or -1 when it is not known (before the first call, or after it moved).
func (c *Client) Coordinator() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if co, ok := c.coords[coordKey{coordTxn, c.txnID}]; ok {
		return co.node
	}
	return -1
}

// run calls try until it reaches a final verdict or ctx ends, pausing
// between attempts as the verdict asks. Each attempt gets a context
// bounded by RequestTimeout. what names the operation in errors and logs.
func (c *Client) run(ctx context.Context, what string, try func(ctx context.Context) (verdict, error)) error {
	if c.bad != nil {
		return c.bad
	}
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return timeoutErr(what, err, last)
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		v, err := try(actx)
		cancel()
		switch v {
		case vOK:
			return nil
		case vFenced:
			return fmt.Errorf("%w: %s: %w", ErrFenced, what, err)
		case vAbortable:
			return fmt.Errorf("%w: %s: %w", ErrAbortable, what, err)
		case vFatal:
			return fmt.Errorf("%w: %s: %w", ErrFatal, what, err)
		}
		last = err
		if cerr := ctx.Err(); cerr != nil {
			return timeoutErr(what, cerr, last)
		}
		wait := c.cfg.RetryBackoff
		if v == vRetrySoon {
			wait = c.cfg.concurrentBackoff()
		}
		c.log.Debug("txn: retrying", "op", what, "attempt", attempt, "action", v.String(), "backoff", wait, "err", err)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return timeoutErr(what, err, last)
		}
	}
}

// atTxnCoordinator is run with each attempt given a connection to the
// transaction coordinator (looked up first when not known): the shape of
// every request about the transaction itself.
func (c *Client) atTxnCoordinator(ctx context.Context, what string, try func(ctx context.Context, p peer, k coordKey, co coord) (verdict, error)) error {
	return c.run(ctx, what, func(ctx context.Context) (verdict, error) {
		k := c.txnKey()
		p, co, v, err := c.coordinator(ctx, k)
		if v != vOK {
			return v, err
		}
		return try(ctx, p, k, co)
	})
}

// timeoutErr is the error of a call whose ctx ended; it matches ErrTimeout
// and ctx's error, and names the last retriable error in its text.
func timeoutErr(what string, ctxErr, last error) error {
	if last == nil {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, what, ctxErr)
	}
	return fmt.Errorf("%w: %s: %w (last error: %v)", ErrTimeout, what, ctxErr, last)
}

// checkID refuses a producer id that did not come from the cluster.
func checkID(id idempotence.ID) error {
	if !id.Valid() || id.Epoch < 0 {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, id)
	}
	return nil
}
