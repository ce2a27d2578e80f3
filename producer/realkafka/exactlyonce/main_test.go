package exactlyonce_test

import (
	"os"
	"testing"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/kafkatest/kprodtest"
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

// newProducer builds a producer on the cluster, closed with the test.
func newProducer(t *testing.T, k kafkatest.Cluster, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	return kprodtest.NewProducer(t, k.Addrs(), opts...)
}
