package kafkatest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fake is a Cluster backed by kfake, franz-go's in-process Kafka.
type Fake struct {
	c *kfake.Cluster

	mu    sync.Mutex
	ids   []int32        // every broker ever started, in order
	ports map[int32]int  // broker id -> port, kept across stop and restart
	down  map[int32]bool // brokers currently stopped
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
	f := &Fake{c: c, ports: map[int32]int{}, down: map[int32]bool{}}
	for i, addr := range c.ListenAddrs() {
		id := int32(i) // kfake numbers its first brokers 0..n-1
		f.ids = append(f.ids, id)
		f.ports[id] = portOf(addr)
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[id] {
		t.Fatalf("kafkatest: broker %d is already down", id)
	}
	if err := f.c.RemoveNode(id); err != nil {
		t.Fatalf("kafkatest: stopping kfake broker %d: %v", id, err)
	}
	f.down[id] = true
}

// controller asks the cluster which broker is its controller.
func (f *Fake) controller(t testing.TB) int32 {
	t.Helper()
	cl, err := newAdmin(f.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down[id] {
		t.Fatalf("kafkatest: broker %d is not down", id)
	}
	if _, _, err := f.c.AddNode(id, f.ports[id]); err != nil {
		t.Fatalf("kafkatest: restarting kfake broker %d: %v", id, err)
	}
	delete(f.down, id)
}

// Close stops the cluster.
func (f *Fake) Close() { f.c.Close() }
