package txn_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// flow is one protocol generation the tests run against.
type flow struct {
	name string
	v2   bool
	opts []kfake.Opt
}

// flows: kfake at its newest speaks transactions v2; pinned to Kafka 3.6
// (EndTxn v3, Produce v9) it speaks the classic flow.
var flows = []flow{
	{name: "v2", v2: true},
	{name: "classic", opts: []kfake.Opt{kafkatest.ClassicTransactions()}},
}

// newCluster starts an in-process 3-broker cluster (kafkatest's kfake
// engine) speaking flow f, with topics a and b (3 partitions each), closed
// at test end.
func newCluster(t testing.TB, f flow) *kfake.Cluster {
	t.Helper()
	return kafkatest.NewFake(t, 3, append([]kfake.Opt{kfake.SeedTopics(3, "a", "b")}, f.opts...)...).Kfake()
}

// newPool returns a pool that knows only the seeds, as the producer's
// would before its first metadata refresh.
func newPool(t testing.TB, c *kfake.Cluster, cfg *wire.Config) *wire.Pool {
	t.Helper()
	if cfg == nil {
		cfg = &wire.Config{}
	}
	cfg.ClientID = "txn-test"
	cfg.ReconnectBackoff, cfg.ReconnectBackoffMax = 5*time.Millisecond, 50*time.Millisecond
	pool, err := wire.NewPool(cfg, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newClient(pool *wire.Pool, txnID string) *txn.Client {
	return txn.NewClient(pool, txn.Config{
		TransactionalID: txnID,
		RequestTimeout:  5 * time.Second,
		RetryBackoff:    5 * time.Millisecond,
	})
}

// initClient makes a transactional client on pool and gets its first
// producer id and epoch.
func initClient(t testing.TB, ctx context.Context, pool *wire.Pool, txnID string) (*txn.Client, idempotence.ID) {
	t.Helper()
	c := newClient(pool, txnID)
	id, err := c.InitProducerID(ctx, idempotence.None)
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// testCtx bounds a test's calls to 20 s (kafkatest.Context).
func testCtx(t *testing.T) context.Context { return kafkatest.Context(t, 20*time.Second) }

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// producer is what the tests need of a transactional producer: its id and
// the next sequence per partition, reset when the epoch changes.
type producer struct {
	t     testing.TB
	txnID string
	pool  *wire.Pool
	c     *kfake.Cluster
	id    idempotence.ID
	seqs  map[tp]int32
}

func newProducer(t testing.TB, c *kfake.Cluster, pool *wire.Pool, txnID string, id idempotence.ID) *producer {
	return &producer{t: t, txnID: txnID, pool: pool, c: c, id: id, seqs: make(map[tp]int32)}
}

// setID switches to the id EndTxn returned; a new epoch restarts
// sequences.
func (p *producer) setID(id idempotence.ID) {
	if id != p.id {
		clear(p.seqs)
	}
	p.id = id
}

// produce writes values to a partition in one transactional batch with
// a raw ProduceRequest to the leader, and fails the test on any error.
func (p *producer) produce(ctx context.Context, topic string, partition int32, values ...string) {
	p.t.Helper()
	if err := p.tryProduce(ctx, topic, partition, values...); err != nil {
		p.t.Fatal(err)
	}
}

func (p *producer) tryProduce(ctx context.Context, topic string, partition int32, values ...string) error {
	key := tp{topic, partition}
	leader := p.c.LeaderFor(topic, partition)
	if _, ok := p.pool.Broker(leader); !ok {
		refreshBrokers(p.t, ctx, p.pool)
	}
	conn, err := p.pool.Conn(ctx, leader, wire.Produce)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = &p.txnID
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = txnBatch(p.id, p.seqs[key], values)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	raw, err := conn.Request(ctx, maxVersion{req, 12}) // v13 names topics by id
	if err != nil {
		return err
	}
	resp := raw.(*kmsg.ProduceResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		return fmt.Errorf("produce to %s[%d] (v%d): %w", topic, partition, req.Version, err)
	}
	p.seqs[key] += int32(len(values))
	return nil
}

// maxVersion caps the version a request is sent at.
type maxVersion struct {
	kmsg.Request
	max int16
}

func (r maxVersion) MaxVersion() int16 { return min(r.Request.MaxVersion(), r.max) }

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// txnBatch encodes a transactional v2 record batch.
func txnBatch(id idempotence.ID, seq int32, values []string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the zero length took one byte
		records = r.AppendTo(records)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           0x10, // transactional
		LastOffsetDelta:      int32(len(values) - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           id.ProducerID,
		ProducerEpoch:        id.Epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(values)),
		Records:              records,
	}
	enc := b.AppendTo(nil)
	b.Length = int32(len(enc) - 12)
	enc = b.AppendTo(enc[:0])
	b.CRC = int32(crc32.Checksum(enc[21:], crc32c))
	return b.AppendTo(enc[:0])
}

// refreshBrokers tells the pool the cluster's brokers.
func refreshBrokers(t testing.TB, ctx context.Context, pool *wire.Pool) {
	t.Helper()
	conn, err := pool.Any(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	raw, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	brokers := make(map[int32]string)
	for _, b := range raw.(*kmsg.MetadataResponse).Brokers {
		brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	pool.SetBrokers(brokers)
}

// readCommitted reads topics from the start as a read_committed consumer
// (kafkatest.ReadRecords) until it has seen want records, and a moment
// more, and returns the values seen, sorted; fewer than want in 10 s, or a
// fetch error, fails the test. Tests arrange for the last committed
// records of every partition to come after any aborted ones, so once all
// wanted values arrived, any aborted value would have been returned before
// them.
func readCommitted(t *testing.T, c *kfake.Cluster, want int, topics ...string) []string {
	t.Helper()
	recs := kafkatest.ReadRecords(t, c.ListenAddrs(), topics[0], want, kafkatest.ReadOptions{
		ReadCommitted: true,
		AlsoTopics:    topics[1:],
		Timeout:       10 * time.Second,
		ClientOpts:    []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
		OnFetchError: func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s[%d]: %v", topic, p, err)
			}
		},
	})
	got := make([]string, len(recs))
	for i, r := range recs {
		got[i] = string(r.Value)
	}
	slices.Sort(got)
	return got
}

// values returns n values named prefix-topic-partition-i.
func values(prefix, topic string, partition int32, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%s%d-%d", prefix, topic, partition, i)
	}
	return out
}

// offsetFetch asks the group coordinator for group's committed offsets of
// topic, with RequireStable: a partition with a pending transactional
// commit answers UNSTABLE_OFFSET_COMMIT. It returns partition → offset or
// error.
func offsetFetch(t *testing.T, ctx context.Context, pool *wire.Pool, group, topic string, partitions ...int32) (map[int32]int64, error) {
	t.Helper()
	any, err := pool.Any(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType, fc.CoordinatorKey, fc.CoordinatorKeys = 0, group, []string{group}
	raw, err := any.Request(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	fr := raw.(*kmsg.FindCoordinatorResponse)
	node := fr.NodeID
	if len(fr.Coordinators) > 0 {
		node = fr.Coordinators[0].NodeID
	}
	if _, ok := pool.Broker(node); !ok {
		refreshBrokers(t, ctx, pool)
	}
	conn, err := pool.Conn(ctx, node, wire.Control)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, partitions
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	raw, err = conn.Request(ctx, maxVersion{req, 8}) // v8+: groups; v10 names topics by id
	if err != nil {
		t.Fatal(err)
	}
	g := raw.(*kmsg.OffsetFetchResponse).Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	for _, st := range g.Topics {
		for _, sp := range st.Partitions {
			if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
				return nil, err
			}
			out[sp.Partition] = sp.Offset
		}
	}
	return out, nil
}
