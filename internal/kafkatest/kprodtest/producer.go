// Package kprodtest holds the test helpers that build kprod's own producer.
// They live apart from kafkatest because they import the producer package:
// kafkatest itself imports no kprod package, so the producer's in-package
// tests, and those of internal/wire, internal/metadata and internal/txn,
// can use it without an import cycle.
package kprodtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// NewProducer builds a kprod producer on the brokers at addrs and closes it
// with the test; a Close that finds it closed already or fenced is not an
// error, any other Close error fails the test. With KPROD_TEST_DEBUG set it
// logs at debug level to standard error (kafkatest.DebugLogger).
func NewProducer(t testing.TB, addrs []string, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	base := []producer.Opt{producer.WithBrokers(addrs...)}
	if l := kafkatest.DebugLogger(); l != nil {
		base = append(base, producer.WithLogger(l))
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
