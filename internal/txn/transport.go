package txn

import (
	"context"

	"github.com/kprod/kprod/internal/metadata"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// peer is a connection to one broker, as far as this package needs it;
// *wire.Conn is one.
type peer interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	MaxVersion(key int16) (int16, bool)
	Feature(name string) (level int16, ok bool)
}

// dialer hands out connections: to any broker (for FindCoordinator), or to
// one node, whose address the coordinator lookup reported.
type dialer interface {
	anyBroker(ctx context.Context) (peer, error)
	broker(ctx context.Context, node int32, addr string) (peer, error)
}

// poolDialer gets connections from a wire.Pool. The pool only knows the
// brokers it was told about; when a coordinator is a broker it does not
// know (or knows at another address), the broker list is refreshed first
// with metadata.RefreshBrokers, as the metadata client's refreshes do.
type poolDialer struct {
	pool *wire.Pool
}

func (d poolDialer) anyBroker(ctx context.Context) (peer, error) {
	c, err := d.pool.Any(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (d poolDialer) broker(ctx context.Context, node int32, addr string) (peer, error) {
	if known, ok := d.pool.Broker(node); !ok || addr != "" && known != addr {
		if err := metadata.RefreshBrokers(ctx, d.pool); err != nil {
			return nil, err
		}
	}
	c, err := d.pool.Conn(ctx, node, wire.Control)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// capped is a request whose version is held at or below max: the
// connection sends min(negotiated, MaxVersion()). It keeps requests on the
// versions whose fields this package fills in (for example topic names
// rather than topic ids).
type capped struct {
	kmsg.Request
	max int16
}

// MaxVersion is the lower of the request's own maximum and the cap.
func (r capped) MaxVersion() int16 { return min(r.Request.MaxVersion(), r.max) }

// Version caps: the highest version of each request whose shape this
// package speaks.
const (
	// AddPartitionsToTxn v4+ is the broker-to-broker batched form.
	maxAddPartitionsVersion = 3
	// EndTxn v5 is transactions v2: it bumps the epoch. Classic flow
	// stays at v4 even when the broker offers v5.
	maxEndTxnClassicVersion = 4
	maxEndTxnV2Version      = 5
	// TxnOffsetCommit v6 names topics by id.
	maxTxnOffsetCommitVersion = 5
)
