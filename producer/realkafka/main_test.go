package realkafka_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/kafkatest/kprodtest"
	"github.com/kprod/kprod/producer"
)

// One single-node cluster serves every test of the package: a broker start
// costs ~10 s, and each test makes its own topics.
var (
	shared    *kafkatest.Kafka
	sharedErr error
)

func TestMain(m *testing.M) {
	if _, err := kafkatest.Lib(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*kafkatest.ReadyTimeout)
		start := time.Now()
		shared, sharedErr = kafkatest.Launch(ctx, kafkatest.KafkaConfig{})
		cancel()
		if sharedErr == nil {
			fmt.Fprintf(os.Stderr, "realkafka: Kafka %s at %v, ready in %v\n", kafkatest.Version, shared.Addrs(), time.Since(start).Round(time.Millisecond))
		}
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// cluster returns the package's broker, or skips the test (fails it under
// CI) when the jars are missing.
func cluster(t *testing.T) *kafkatest.Kafka {
	t.Helper()
	kafkatest.RequireKafka(t)
	if sharedErr != nil {
		t.Fatalf("starting Kafka: %v", sharedErr)
	}
	if shared == nil {
		t.Fatal("Kafka jars appeared after TestMain looked")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log tail:\n%s", shared.LogTail(1, 40))
		}
	})
	return shared
}

// newProducer builds a producer on the cluster, closed with the test.
func newProducer(t *testing.T, k kafkatest.Cluster, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	return kprodtest.NewProducer(t, k.Addrs(), opts...)
}
