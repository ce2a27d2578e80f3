package producertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// Cluster is an embedded Kafka cluster for integration tests: kfake, an
// in-process implementation of the Kafka protocol by franz-go, listening on
// loopback ports, with fault hooks and a reader for what landed. Connect a
// real producer with producer.WithBrokers(c.Addrs()...).
//
// kfake is not Apache Kafka: it keeps one copy of each partition's log, so
// a stopped broker loses no data, and its validation is its own. It answers
// the requests a producer sends as Kafka does, which is what a service's
// tests need; the producer's own tests also run against real Kafka.
type Cluster struct {
	// f is the kfake engine of kprod's own tests (internal/kafkatest): it
	// starts kfake, keeps each broker's address across a stop, and reads
	// logs back; Cluster adds the connection tracking and the faults.
	f  *kafkatest.Fake
	kf *kfake.Cluster

	mu     sync.Mutex
	conns  map[string]map[*trackedConn]struct{} // open client connections per listener address; guarded by mu
	closed bool                                 // guarded by mu
}

// clusterConfig holds a Cluster's options.
type clusterConfig struct {
	brokers    int
	topics     map[string]int
	autoCreate int // partitions of auto-created topics; 0: no auto-creation
	kfake      []kfake.Opt
}

// ClusterOpt configures a Cluster.
type ClusterOpt func(*clusterConfig)

// NumBrokers sets the number of brokers (default 3).
func NumBrokers(n int) ClusterOpt { return func(c *clusterConfig) { c.brokers = max(n, 1) } }

// WithTopic creates topic with the given number of partitions (≥ 1) when
// the cluster starts.
func WithTopic(topic string, partitions int) ClusterOpt {
	return func(c *clusterConfig) { c.topics[topic] = max(partitions, 1) }
}

// AutoCreateTopics makes the cluster create a topic, with the given number
// of partitions, the first time a producer asks for it (Kafka's
// auto.create.topics.enable). Without it a topic not created with WithTopic
// is unknown, and a Send to it waits max.block, then fails with
// producer.ErrUnknownTopic.
func AutoCreateTopics(partitions int) ClusterOpt {
	return func(c *clusterConfig) { c.autoCreate = max(partitions, 1) }
}

// WithKfakeOptions passes options to kfake.NewCluster (SASL, TLS, ACLs,
// versions, ...), after the cluster's own.
func WithKfakeOptions(opts ...kfake.Opt) ClusterOpt {
	return func(c *clusterConfig) { c.kfake = append(c.kfake, opts...) }
}

// NewCluster starts a cluster for the test and stops it when the test ends;
// it fails the test if the cluster cannot start.
func NewCluster(t testing.TB, opts ...ClusterOpt) *Cluster {
	t.Helper()
	c, err := StartCluster(opts...)
	if err != nil {
		t.Fatalf("producertest: starting the embedded cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartCluster starts a cluster; the caller stops it with Close. Tests use
// NewCluster; StartCluster is for programs and Example functions.
func StartCluster(opts ...ClusterOpt) (*Cluster, error) {
	cfg := clusterConfig{brokers: 3, topics: map[string]int{}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	c := &Cluster{conns: map[string]map[*trackedConn]struct{}{}}
	kopts := []kfake.Opt{kfake.ListenFn(c.listen)}
	byCount := map[int][]string{}
	for topic, n := range cfg.topics {
		byCount[n] = append(byCount[n], topic)
	}
	for n, topics := range byCount {
		kopts = append(kopts, kfake.SeedTopics(int32(n), topics...))
	}
	if cfg.autoCreate > 0 {
		kopts = append(kopts, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(cfg.autoCreate))
	}
	f, err := kafkatest.LaunchFake(cfg.brokers, append(kopts, cfg.kfake...)...)
	if err != nil {
		return nil, err
	}
	c.f, c.kf = f, f.Kfake()
	return c, nil
}

// Addrs returns the "host:port" of every running broker, for
// producer.WithBrokers.
func (c *Cluster) Addrs() []string { return c.kf.ListenAddrs() }

// Kfake returns the kfake cluster underneath, for what the hooks here do not
// cover (kfake's Fault, ControlKey, SleepOutOfOrder, ...).
func (c *Cluster) Kfake() *kfake.Cluster { return c.kf }

// Close stops the cluster and drops every connection to it. Calling it
// again does nothing.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.f.Close()
	c.dropWhere(func(string) bool { return true })
}

// ---- faults ----

// Fault is an installed fault: how often it struck, and a way to wait for
// it or remove it.
type Fault struct {
	kf *kfake.FaultHandle // FailNextProduce; nil for a fault with nothing to do

	mu      sync.Mutex    // DropNextProduce: guards hits and changed
	hits    int           // requests struck so far
	changed chan struct{} // closed and replaced on every hit
	remove  func()
}

// Hits is the number of requests the fault has struck so far.
func (f *Fault) Hits() int {
	if f.kf != nil {
		return f.kf.Hits()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// Wait waits until the fault has struck at least n requests, or ctx ends.
func (f *Fault) Wait(ctx context.Context, n int) error {
	if f.kf != nil {
		return f.kf.Wait(ctx, n)
	}
	for {
		f.mu.Lock()
		hits, changed := f.hits, f.changed
		f.mu.Unlock()
		if hits >= n {
			return nil
		}
		if changed == nil {
			return fmt.Errorf("producertest: the fault strikes nothing: %d of %d hits", hits, n)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("producertest: the fault struck %d of %d requests: %w", hits, n, ctx.Err())
		}
	}
}

// Remove uninstalls what is left of the fault.
func (f *Fault) Remove() {
	switch {
	case f.kf != nil:
		f.kf.Remove()
	case f.remove != nil:
		f.remove()
	}
}

// FailNextProduce answers the next n produce requests that carry topic with
// code for every partition of topic in the request, before the broker writes
// anything (n < 0: every such request until Remove; n == 0: none). Whether
// the producer rides the error out depends on the code: retriable ones
// (kerr.NotLeaderForPartition, kerr.NotEnoughReplicas, ...) are retried,
// others (kerr.InvalidRecord, kerr.PolicyViolation, ...) fail the records.
// kerr.RequestTimedOut and kerr.NotEnoughReplicasAfterAppend are answered
// after the write, as a broker does, so the retry is a duplicate for
// idempotence to remove.
func (c *Cluster) FailNextProduce(topic string, n int, code *kerr.Error) *Fault {
	if n == 0 {
		return &Fault{}
	}
	if n < 0 {
		n = -1
	}
	return &Fault{kf: c.kf.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: code, Count: n})}
}

// errDropped is what the control returns to make kfake close a connection.
var errDropped = errors.New("producertest: connection dropped by DropNextProduce")

// DropNextProduce closes the connection that carries each of the next n
// produce requests (to any topic), instead of handling the request: the
// producer sees its requests in flight on that connection fail, reconnects
// and retries.
func (c *Cluster) DropNextProduce(n int) *Fault {
	f := &Fault{changed: make(chan struct{})}
	if n <= 0 {
		f.changed = nil
		return f
	}
	removed := false
	f.remove = func() {
		f.mu.Lock()
		removed = true
		f.mu.Unlock()
	}
	c.kf.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if removed || f.hits >= n {
			c.kf.DropControl()
			return nil, nil, false
		}
		f.hits++
		close(f.changed)
		f.changed = make(chan struct{})
		if f.hits < n {
			c.kf.KeepControl()
		}
		return nil, errDropped, true
	})
	return f
}

// DropConnections closes every client connection open now, on every broker.
// Producers reconnect; requests in flight fail and are retried.
func (c *Cluster) DropConnections() { c.dropWhere(func(string) bool { return true }) }

// MoveLeaders elects a random new leader for every partition (a partition
// may keep its leader) and bumps the leader epochs, as after a broker
// restart; producers learn of it from their next requests.
func (c *Cluster) MoveLeaders() { c.kf.ShufflePartitionLeaders() }

// MoveLeader makes broker the leader of one partition.
func (c *Cluster) MoveLeader(topic string, partition, broker int32) error {
	return c.kf.MoveTopicPartition(topic, partition, broker)
}

// LeaderOf returns the broker leading a partition, -1 if there is no such
// partition.
func (c *Cluster) LeaderOf(topic string, partition int32) int32 {
	return c.kf.LeaderFor(topic, partition)
}

// StopBroker stops a broker: it stops listening, its connections are
// closed and its partitions get leaders among the other brokers (kfake
// keeps one log per partition, so no record is lost). The last running
// broker cannot be stopped. A producer finds the new leaders as soon as
// the stopped broker's address refuses its connections.
func (c *Cluster) StopBroker(id int32) error {
	addr := c.f.Addr(id)
	if err := c.f.Stop(id); err != nil {
		return fmt.Errorf("producertest: %w", err)
	}
	c.dropWhere(func(a string) bool { return a == addr })
	return nil
}

// StartBroker starts a broker StopBroker stopped, on its old address, and
// spreads partition leadership over the running brokers again.
func (c *Cluster) StartBroker(id int32) error {
	if err := c.f.Start(id); err != nil {
		return fmt.Errorf("producertest: %w", err)
	}
	return nil
}

// ---- reading back ----

// StoredRecord is a record as it sits in a partition's log.
type StoredRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	Headers   []producer.Header
	Timestamp time.Time
}

// Records reads every record of topic written so far (read_uncommitted: up
// to each partition's high watermark, records of open and aborted
// transactions included), sorted by partition and offset. It reads with an
// independent client (franz-go's kgo), as a consumer would; ctx bounds the
// whole read.
func (c *Cluster) Records(ctx context.Context, topic string) ([]StoredRecord, error) {
	return c.read(ctx, topic, false)
}

// CommittedRecords reads topic as a read_committed consumer does: up to
// each partition's last stable offset, without the records of aborted
// transactions (and without those of transactions still open).
func (c *Cluster) CommittedRecords(ctx context.Context, topic string) ([]StoredRecord, error) {
	return c.read(ctx, topic, true)
}

func (c *Cluster) read(ctx context.Context, topic string, committed bool) ([]StoredRecord, error) {
	recs, err := kafkatest.ReadLog(ctx, c.Addrs(), []string{topic}, kafkatest.LogOptions{
		ReadCommitted: committed,
		StopAtStable:  true, // a transaction still open is not waited for
		OnlyBeforeEnd: true,
		OnFetchError: func(_ string, _ int32, err error) error {
			if !errors.Is(err, context.Canceled) && !kerr.IsRetriable(err) {
				return err
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("producertest: reading %s: %w", topic, err)
	}
	var out []StoredRecord
	for _, r := range recs {
		sr := StoredRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			sr.Headers = append(sr.Headers, producer.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, sr)
	}
	slices.SortFunc(out, func(a, b StoredRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, nil
}

// ---- connection tracking ----

// listen is kfake's ListenFn: it tracks the connections each listener
// accepts, so they can be dropped.
func (c *Cluster) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &trackedListener{Listener: ln, c: c, addr: ln.Addr().String()}, nil
}

type trackedListener struct {
	net.Listener
	c    *Cluster
	addr string
}

func (l *trackedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, c: l.c, addr: l.addr}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if l.c.closed {
		conn.Close()
		return tc, nil // kfake sees the connection fail at once
	}
	if l.c.conns[l.addr] == nil {
		l.c.conns[l.addr] = map[*trackedConn]struct{}{}
	}
	l.c.conns[l.addr][tc] = struct{}{}
	return tc, nil
}

type trackedConn struct {
	net.Conn
	c    *Cluster
	addr string
	once sync.Once
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() {
		tc.c.mu.Lock()
		delete(tc.c.conns[tc.addr], tc)
		tc.c.mu.Unlock()
	})
	return tc.Conn.Close()
}

// dropWhere closes the open connections of the listeners whose address
// matches.
func (c *Cluster) dropWhere(match func(addr string) bool) {
	c.mu.Lock()
	var drop []*trackedConn
	for addr, conns := range c.conns {
		if match(addr) {
			for tc := range conns {
				drop = append(drop, tc)
			}
		}
	}
	c.mu.Unlock()
	for _, tc := range drop {
		tc.Close()
	}
}
