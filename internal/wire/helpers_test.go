package wire

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

const testTopic = "t"

// newCluster starts an in-process 3-broker cluster (kafkatest's kfake
// engine) with testTopic (3 partitions), closed at test end.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return kafkatest.NewFake(t, 3, append([]kfake.Opt{kfake.SeedTopics(3, testTopic)}, opts...)...).Kfake()
}

// dialT dials addr with a short timeout and closes the conn at test end.
func dialT(t testing.TB, addr string, cfg *Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// leaderConn dials the leader of testTopic partition 0 and returns it with
// the topic id.
func leaderConn(t testing.TB, cluster *kfake.Cluster, cfg *Config) (*Conn, [16]byte) {
	t.Helper()
	seed := dialT(t, cluster.ListenAddrs()[0], cfg)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(testTopic)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := seed.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := raw.(*kmsg.MetadataResponse)
	leader := int32(-1)
	for _, p := range resp.Topics[0].Partitions {
		if p.Partition == 0 {
			leader = p.Leader
		}
	}
	for _, b := range resp.Brokers {
		if b.NodeID == leader {
			addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			if addr == seed.Addr() {
				return seed, resp.Topics[0].TopicID
			}
			return dialT(t, addr, cfg), resp.Topics[0].TopicID
		}
	}
	t.Fatalf("leader %d not among brokers", leader)
	return nil, [16]byte{}
}

// produceRequest builds a one-record produce request for testTopic
// partition 0.
func produceRequest(topicID [16]byte, acks int16, value []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = testTopic
	rt.TopicID = topicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = recordBatch(value)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// recordBatch encodes a v2 batch holding one record with value.
func recordBatch(value []byte) []byte {
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, 0) // offset delta
	rec = binary.AppendVarint(rec, -1)
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // headers
	records := binary.AppendVarint(nil, int64(len(rec)))
	records = append(records, rec...)

	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Length:          int32(49 + len(records)),
		Magic:           2,
		FirstTimestamp:  now,
		MaxTimestamp:    now,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      1,
		LastOffsetDelta: 0,
		Records:         records,
	}
	enc := b.AppendTo(nil)
	crc := crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(enc[17:], crc)
	return enc
}

// baseOffset returns partition 0's base offset and error of a produce
// response.
func baseOffset(t testing.TB, resp kmsg.Response) (int64, int16) {
	t.Helper()
	pr, ok := resp.(*kmsg.ProduceResponse)
	if !ok || len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("unexpected produce response %#v", resp)
	}
	p := pr.Topics[0].Partitions[0]
	return p.BaseOffset, p.ErrorCode
}

// requireNoGoroutines fails when goroutines running this package's code
// (other than test functions) outlive a short grace period.
func requireNoGoroutines(t testing.TB) {
	t.Helper()
	kafkatest.WaitGoroutinesGone(t, "internal/wire.(*", 2*time.Second)
}
