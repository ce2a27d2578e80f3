package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Fake is a Cluster backed by kfake, franz-go's in-process Kafka.
type Fake struct {
	c *kfake.Cluster

	mu    sync.Mutex
	ids   []int32          // every broker ever started, in order
	addrs map[int32]string // broker id -> host:port, kept across stop and restart
	down  map[int32]bool   // brokers currently stopped
}

// NewFake starts a kfake cluster of brokers brokers (1 if 0), with opts
// added (fault injection, broker configs, ...), closed with the test.
func NewFake(t testing.TB, brokers int, opts ...kfake.Opt) *Fake {
	t.Helper()
	f, err := LaunchFake(brokers, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// LaunchFake is NewFake without a test, for TestMain and examples; the
// caller closes it.
func LaunchFake(brokers int, opts ...kfake.Opt) (*Fake, error) {
	brokers = max(brokers, 1)
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(brokers)}, opts...)...)
	if err != nil {
		return nil, err
	}
	f := &Fake{c: c, addrs: map[int32]string{}, down: map[int32]bool{}}
	for i, addr := range c.ListenAddrs() {
		id := int32(i) // kfake numbers its first brokers 0..n-1
		f.ids = append(f.ids, id)
		f.addrs[id] = addr
	}
	return f, nil
}

// Kfake is the kfake cluster underneath, for its fault injection
// (ControlKey, MoveTopicPartition, ShufflePartitionLeaders, ...).
func (f *Fake) Kfake() *kfake.Cluster { return f.c }

// Engine is EngineKfake.
func (f *Fake) Engine() Engine { return EngineKfake }

// Addrs is where the running brokers listen.
func (f *Fake) Addrs() []string { return f.c.ListenAddrs() }

// BrokerIDs are the ids of all brokers, stopped ones included.
func (f *Fake) BrokerIDs() []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}

// CreateTopic creates topic. kfake places replicas itself: replication is
// ignored (the request asks for the broker's default).
func (f *Fake) CreateTopic(t testing.TB, topic string, partitions int32, _ int16, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createTopic(ctx, f.Addrs(), topic, partitions, -1, configs); err != nil {
		t.Fatal(err)
	}
}

// StopBroker removes the broker from the cluster: its listener closes and
// its partitions move to the others. kfake has no process to stop, so
// StopBroker and KillBroker are the same, and connections already open stay
// open — a coarser fault than a real broker's crash. kfake cannot remove
// its last broker, nor (usefully) its controller, the broker with the
// highest id at start: StopBroker fails the test for either.
func (f *Fake) StopBroker(t testing.TB, id int32) {
	t.Helper()
	if ctl := f.controller(t); ctl == id {
		// kfake keeps pointing at the removed broker as its controller,
		// and every CreateTopics after gets NOT_CONTROLLER.
		t.Fatalf("kafkatest: kfake cannot stop broker %d, its controller: topics could not be created any more; stop another", id)
	}
	if err := f.Stop(id); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
}

// Stop is StopBroker without a test and without its controller check, for
// code that reports errors (producertest.Cluster): it removes broker id
// from kfake, or says why it could not.
func (f *Fake) Stop(id int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.addrs[id]; !ok {
		return fmt.Errorf("no broker %d", id)
	}
	if f.down[id] {
		return fmt.Errorf("broker %d is stopped already", id)
	}
	if err := f.c.RemoveNode(id); err != nil {
		return fmt.Errorf("stopping broker %d: %w", id, err)
	}
	f.down[id] = true
	return nil
}

// Addr is where broker id listens, or listened before it was stopped ("" for
// no such broker).
func (f *Fake) Addr(id int32) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrs[id]
}

// controller asks the cluster which broker is its controller.
func (f *Fake) controller(t testing.TB) int32 {
	t.Helper()
	cl, ctx, done := testAdmin(t, f.Addrs(), 10*time.Second)
	defer done()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("kafkatest: metadata: %v", err)
	}
	return resp.ControllerID
}

// KillBroker is StopBroker on kfake.
func (f *Fake) KillBroker(t testing.TB, id int32) {
	t.Helper()
	f.StopBroker(t, id)
}

// RestartBroker adds the broker back on its old port; partitions are
// shuffled over the brokers again.
func (f *Fake) RestartBroker(t testing.TB, id int32) {
	t.Helper()
	if err := f.Start(id); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
}

// Start is RestartBroker without a test: it adds a stopped broker back on
// its old address, or says why it could not.
func (f *Fake) Start(id int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down[id] {
		return fmt.Errorf("broker %d is not stopped", id)
	}
	if _, _, err := f.c.AddNode(id, portOf(f.addrs[id])); err != nil {
		return fmt.Errorf("starting broker %d: %w", id, err)
	}
	delete(f.down, id)
	return nil
}

// Close stops the cluster.
func (f *Fake) Close() { f.c.Close() }

// ClassicTransactions pins kfake to Kafka 3.6's request versions (EndTxn
// v3, Produce v9): its transaction coordinator then runs the classic
// protocol instead of transactions v2 (KIP-890), which it runs at its
// newest versions.
func ClassicTransactions() kfake.Opt { return kfake.MaxVersions(kversion.V3_6_0()) }

// TxnFlows runs fn as two subtests, "v2" and "classic", with the kfake
// options of each transaction protocol (none, ClassicTransactions), so a
// transactional test covers both.
func TxnFlows(t *testing.T, fn func(t *testing.T, opts ...kfake.Opt)) {
	t.Run("v2", func(t *testing.T) { fn(t) })
	t.Run("classic", func(t *testing.T) { fn(t, ClassicTransactions()) })
}
