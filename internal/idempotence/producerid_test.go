package idempotence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/wire"
)

func requester(t *testing.T, c *kfake.Cluster) Requester {
	pool, err := wire.NewPool(&wire.Config{}, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
		conn, err := pool.Any(ctx)
		if err != nil {
			return nil, err
		}
		return conn.Request(ctx, req)
	}
}

func TestInitGetsAnID(t *testing.T) {
	c := kafkatest.NewFake(t, 1).Kfake()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	do := requester(t, c)
	id, err := Init(ctx, do, time.Minute, None, 10*time.Millisecond)
	if err != nil || !id.Valid() {
		t.Fatalf("%v %v", id, err)
	}
	// Retriable errors are retried; the answer still comes.
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil, true
	})
	again, err := Init(ctx, do, time.Minute, id, 10*time.Millisecond)
	if err != nil || !again.Valid() {
		t.Fatalf("after a retriable error: %v %v", again, err)
	}
	// A non-retriable error ends it with the broker's code.
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil, true
	})
	_, err = Init(ctx, do, time.Minute, None, 10*time.Millisecond)
	if !errors.Is(err, ErrInit) || !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("got %v", err)
	}
	// A context that ends stops the retries.
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := Init(short, do, time.Minute, None, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}
