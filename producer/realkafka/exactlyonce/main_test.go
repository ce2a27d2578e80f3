package exactlyonce_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

var clusters kafkatest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	clusters.Close()
	os.Exit(code)
}

// three is the package's three-broker cluster (node 1 is the controller
// too), formatted with Kafka 4.4's defaults: transactions v2.
func three(t *testing.T) *kafkatest.Kafka {
	t.Helper()
	return clusters.Get(t, kafkatest.KafkaConfig{Brokers: 3})
}

// classic is a one-node cluster formatted with transaction.version=0: the
// transaction coordinator runs the classic (pre-KIP-890) protocol.
func classic(t *testing.T) *kafkatest.Kafka {
	t.Helper()
	return clusters.Get(t, kafkatest.KafkaConfig{Features: []string{"transaction.version=0"}})
}

// controller is the node that runs the KRaft controller in the harness's
// clusters; killing it would stop leader elections, so the tests kill
// other nodes.
const controller = 1

// newProducer builds a producer on the cluster, closed with the test. With
// KPROD_TEST_DEBUG set it logs at debug level to standard error.
func newProducer(t *testing.T, k kafkatest.Cluster, opts ...producer.Opt) *producer.Producer {
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
