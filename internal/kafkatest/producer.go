package kafkatest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kprod/kprod/producer"
)

// NewProducer builds a kprod producer on the cluster and closes it with the
// test; a Close that finds it closed already or fenced is not an error. With
// KPROD_TEST_DEBUG set it logs at debug level to standard error.
func NewProducer(t testing.TB, k Cluster, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	base := []producer.Opt{producer.WithBrokers(k.Addrs()...)}
	if os.Getenv("KPROD_TEST_DEBUG") != "" {
		base = append(base, producer.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	p, err := producer.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil && !errors.Is(err, producer.ErrClosed) && !errors.Is(err, producer.ErrFenced) {
			t.Errorf("close: %v", err)
		}
	})
	return p
}
