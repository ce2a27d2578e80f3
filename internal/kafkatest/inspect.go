package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionState is one partition as the cluster's metadata describes it.
type PartitionState struct {
	Partition   int32
	Leader      int32 // -1 while the partition has none
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
}

// liveAddrs are the addresses of c's running brokers: a stopped real broker
// only slows a client down.
func liveAddrs(c Cluster) []string {
	if k, ok := c.(*Kafka); ok {
		return k.runningAddrs()
	}
	return c.Addrs()
}

// Partitions returns the metadata of every partition of topic, in partition
// order, as a running broker of c answers it.
func Partitions(t testing.TB, c Cluster, topic string) []PartitionState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps, _, err := partitions(ctx, liveAddrs(c), topic)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// Leader is the broker that leads partition of topic now, by the cluster's
// metadata (-1 when it has none).
func Leader(t testing.TB, c Cluster, topic string, partition int32) int32 {
	t.Helper()
	for _, p := range Partitions(t, c, topic) {
		if p.Partition == partition {
			return p.Leader
		}
	}
	t.Fatalf("kafkatest: %s has no partition %d", topic, partition)
	return -1
}

// TopicID is topic's id, for requests that name topics by id (Produce v13,
// Fetch v13, OffsetCommit v10 and OffsetFetch v10 and later).
func TopicID(t testing.TB, c Cluster, topic string) [16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, id, err := partitions(ctx, liveAddrs(c), topic)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// partitions asks addrs for topic's metadata; it also returns the topic id.
func partitions(ctx context.Context, addrs []string, topic string) ([]PartitionState, [16]byte, error) {
	var id [16]byte
	cl, err := newAdmin(addrs)
	if err != nil {
		return nil, id, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, id, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, id, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
		}
		var out []PartitionState
		for _, p := range t.Partitions {
			out = append(out, PartitionState{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR)})
		}
		slices.SortFunc(out, func(a, b PartitionState) int { return int(a.Partition - b.Partition) })
		return out, t.TopicID, nil
	}
	return nil, id, fmt.Errorf("kafkatest: %s not in metadata", topic)
}

// Batch is one record batch as it lies in a partition's log: the header
// fields the broker checks when it appends an idempotent or transactional
// producer's batch.
type Batch struct {
	BaseOffset    int64
	Records       int32 // LastOffsetDelta+1 (control batches hold one record)
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Transactional bool
	Control       bool
	LeaderEpoch   int32 // the partition leader epoch that appended it
	Codec         int8
}

// Batches reads every record batch of one partition from its leader with
// raw Fetch requests (read_uncommitted, so aborted batches and transaction
// markers are there too) up to the high watermark. It shares no code with
// kprod and none with kgo's consumer: the headers are as the broker stored
// them.
func Batches(t testing.TB, c Cluster, topic string, partition int32) []Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bs, err := batches(ctx, liveAddrs(c), topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func batches(ctx context.Context, addrs []string, topic string, partition int32) ([]Batch, error) {
	var out []Batch
	var offset int64
	for {
		ps, id, err := partitions(ctx, addrs, topic)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(ps, func(p PartitionState) bool { return p.Partition == partition })
		if i < 0 || ps[i].Leader < 0 {
			return nil, fmt.Errorf("kafkatest: %s/%d has no leader", topic, partition)
		}
		got, hw, err := fetchBatches(ctx, addrs, ps[i].Leader, topic, id, partition, offset)
		if err != nil {
			return nil, err
		}
		for _, b := range got {
			if b.BaseOffset+int64(b.Records) <= offset {
				continue // the fetch started inside an earlier batch
			}
			out = append(out, b)
			offset = b.BaseOffset + int64(b.Records)
		}
		if offset >= hw {
			return out, nil
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("kafkatest: %s/%d: no batch at offset %d below the high watermark %d", topic, partition, offset, hw)
		}
	}
}

// fetchBatches sends one Fetch for partition from offset to broker leader
// and decodes the batch headers of the answer.
func fetchBatches(ctx context.Context, addrs []string, leader int32, topic string, id [16]byte, partition int32, offset int64) ([]Batch, int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 100
	req.MaxBytes = 32 << 20
	req.IsolationLevel = 0
	req.SessionEpoch = -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 16<<20
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
	if err != nil {
		return nil, 0, fmt.Errorf("kafkatest: fetch %s/%d from broker %d: %w", topic, partition, leader, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, 0, fmt.Errorf("kafkatest: fetch %s/%d from broker %d: %w", topic, partition, leader, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition != partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, 0, fmt.Errorf("kafkatest: fetch %s/%d from broker %d: %w", topic, partition, leader, err)
			}
			bs, err := decodeBatches(p.RecordBatches)
			return bs, p.HighWatermark, err
		}
	}
	return nil, 0, fmt.Errorf("kafkatest: fetch %s/%d from broker %d: partition not in the answer", topic, partition, leader)
}

// decodeBatches reads the batch headers out of a Fetch answer's record
// bytes; a batch cut off at the end (the answer's size limit) is left out.
func decodeBatches(b []byte) ([]Batch, error) {
	var out []Batch
	for len(b) >= 12 {
		length := int32(uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11]))
		size := 12 + int(length)
		if length < 0 || size > len(b) {
			break
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			return out, fmt.Errorf("kafkatest: decoding a batch: %w", err)
		}
		if rb.Magic != 2 {
			return out, fmt.Errorf("kafkatest: batch at offset %d has magic %d", rb.FirstOffset, rb.Magic)
		}
		out = append(out, Batch{
			BaseOffset:    rb.FirstOffset,
			Records:       rb.LastOffsetDelta + 1,
			ProducerID:    rb.ProducerID,
			ProducerEpoch: rb.ProducerEpoch,
			BaseSequence:  rb.FirstSequence,
			Transactional: rb.Attributes&0x10 != 0,
			Control:       rb.Attributes&0x20 != 0,
			LeaderEpoch:   rb.PartitionLeaderEpoch,
			Codec:         int8(rb.Attributes & 0x07),
		})
		b = b[size:]
	}
	return out, nil
}

// CheckSequences checks what the broker enforces for idempotent producers,
// as the log shows it: for each producer id and epoch, its data batches
// carry base sequences that follow on without a gap or an overlap, the first
// at 0. It returns a description of the first break, or "".
func CheckSequences(bs []Batch) string {
	type session struct {
		id    int64
		epoch int16
	}
	next := map[session]int32{}
	for _, b := range bs {
		if b.Control || b.ProducerID < 0 {
			continue
		}
		s := session{b.ProducerID, b.ProducerEpoch}
		want, seen := next[s]
		if !seen {
			want = 0
		}
		if b.BaseSequence != want {
			return fmt.Sprintf("batch at offset %d (producer %d epoch %d): base sequence %d, want %d", b.BaseOffset, b.ProducerID, b.ProducerEpoch, b.BaseSequence, want)
		}
		next[s] = want + b.Records
	}
	return ""
}

// CommittedOffsets reads the offsets group committed for topic, partition
// by partition (-1 for none, also for a group that does not exist), asking
// the group coordinator with OffsetFetch for stable offsets only: while a
// transaction that commits offsets is open, or while the coordinator is
// not ready (a fresh cluster creates its offsets topic on the first group
// request), it asks again, for up to 30 s.
func CommittedOffsets(t testing.TB, c Cluster, group, topic string, nparts int32) []int64 {
	t.Helper()
	cl, ctx, done := testAdmin(t, liveAddrs(c), 30*time.Second)
	defer done()
	_, id, err := partitions(ctx, liveAddrs(c), topic)
	if err != nil {
		t.Fatal(err)
	}
	for {
		out, err := fetchOffsets(ctx, cl, group, topic, id, nparts)
		if err == nil {
			return out
		}
		if !kerr.IsRetriable(err) || ctx.Err() != nil {
			t.Fatalf("kafkatest: OffsetFetch %s: %v", group, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fetchOffsets(ctx context.Context, cl *kgo.Client, group, topic string, id [16]byte, nparts int32) ([]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.TopicID = topic, id // v10+ names topics by id
	for p := range nparts {
		rt.Partitions = append(rt.Partitions, p)
	}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	// The single-group fields, for brokers answering below v8.
	req.Group = group
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: rt.Partitions}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make([]int64, nparts)
	for i := range out {
		out[i] = -1
	}
	for _, g := range resp.Groups {
		if g.ErrorCode == kerr.GroupIDNotFound.Code {
			continue // kfake's answer for a group that committed nothing
		}
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, err
		}
		for _, gt := range g.Topics {
			for _, p := range gt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("%s/%d: %w", gt.Topic, p.Partition, err)
				}
				if (gt.Topic == topic || gt.TopicID == id) && p.Partition >= 0 && p.Partition < nparts {
					out[p.Partition] = p.Offset
				}
			}
		}
	}
	return out, nil
}

// APIVersions is the ApiVersions answer of a running broker of c: the
// request versions it takes and, on a KRaft cluster, its finalized feature
// levels.
func APIVersions(t testing.TB, c Cluster) *kmsg.ApiVersionsResponse {
	t.Helper()
	cl, ctx, done := testAdmin(t, liveAddrs(c), 30*time.Second)
	defer done()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("kafkatest: ApiVersions: %v", err)
	}
	return resp
}

// Finalized is c's finalized feature levels by name (transaction.version,
// ...), as ApiVersions answers them; a feature at level 0 is left out, so
// it reads as 0 here too.
func Finalized(t testing.TB, c Cluster) map[string]int16 {
	t.Helper()
	out := map[string]int16{}
	for _, f := range APIVersions(t, c).FinalizedFeatures {
		out[f.Name] = f.MaxVersionLevel
	}
	return out
}
