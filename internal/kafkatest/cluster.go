package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is a running Kafka cluster for a test, whichever engine backs it.
// Methods that take a testing.TB fail the test on error.
type Cluster interface {
	// Engine names what runs the cluster: EngineKfake or EngineKafka.
	Engine() Engine
	// Addrs is where the brokers listen, host:port each, for bootstrap.
	Addrs() []string
	// BrokerIDs are the node ids of the brokers (running or not).
	BrokerIDs() []int32
	// CreateTopic creates a topic and returns once every broker knows a
	// leader for each partition. replication 0 means as many replicas as
	// brokers, up to 3; configs are topic configs (max.message.bytes, ...).
	CreateTopic(t testing.TB, topic string, partitions int32, replication int16, configs map[string]string)
	// StopBroker shuts a broker down cleanly and waits until it is gone.
	StopBroker(t testing.TB, id int32)
	// KillBroker ends a broker at once, as a crash would.
	KillBroker(t testing.TB, id int32)
	// RestartBroker starts a stopped or killed broker again, on the same
	// address with the same data, and waits until it serves.
	RestartBroker(t testing.TB, id int32)
	// Close ends every broker and removes what the cluster wrote to disk.
	// It may be called more than once.
	Close()
}

// Engine names what backs a Cluster.
type Engine string

// The engines.
const (
	EngineKfake Engine = "kfake" // franz-go's in-process cluster
	EngineKafka Engine = "kafka" // Apache Kafka run from the fetched jars
)

// EnvEngine names the environment variable that picks the engine of Start.
const EnvEngine = "KPROD_TEST_ENGINE"

// Start returns a cluster of brokers brokers (1 if 0) on the engine named by
// $KPROD_TEST_ENGINE — kfake when unset — closed with the test. Tests that
// only need "a Kafka" use it, so the same test runs on either engine.
func Start(t testing.TB, brokers int) Cluster {
	t.Helper()
	switch e := Engine(os.Getenv(EnvEngine)); e {
	case "", EngineKfake:
		return NewFake(t, brokers)
	case EngineKafka:
		return StartKafka(t, KafkaConfig{Brokers: brokers})
	default:
		t.Fatalf("%s=%q: want %q or %q", EnvEngine, e, EngineKfake, EngineKafka)
		return nil
	}
}

var topicSeq atomic.Int64

var notTopicChar = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// TopicName returns a topic name unique in this process, derived from the
// test's name, so tests sharing a cluster never meet.
func TopicName(t testing.TB) string {
	name := notTopicChar.ReplaceAllString(t.Name(), ".")
	name = strings.Trim(name, ".")
	if len(name) > 180 {
		name = name[:180]
	}
	return name + "." + strconv.FormatInt(topicSeq.Add(1), 10)
}

// newAdmin returns a kgo client for control requests to addrs.
func newAdmin(addrs []string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RetryTimeout(30*time.Second))
}

// testAdmin is newAdmin for a helper that fails the test on error, with a
// context bounding its requests to d; done closes both.
func testAdmin(t testing.TB, addrs []string, d time.Duration) (cl *kgo.Client, ctx context.Context, done func()) {
	t.Helper()
	cl, err := newAdmin(addrs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	return cl, ctx, func() { cancel(); cl.Close() }
}

// createTopic sends CreateTopics through any broker (kgo routes it to the
// controller) and waits until every broker in addrs reports a leader for
// each partition and, when it is given, a full ISR.
func createTopic(ctx context.Context, addrs []string, topic string, partitions int32, replication int16, configs map[string]string) error {
	cl, err := newAdmin(addrs)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, replication
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafkatest: create topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			msg := ""
			if rt.ErrorMessage != nil {
				msg = ": " + *rt.ErrorMessage
			}
			return fmt.Errorf("kafkatest: create topic %s: %w%s", topic, err, msg)
		}
	}
	for _, addr := range addrs {
		if err := waitTopic(ctx, addr, topic, partitions, replication); err != nil {
			return err
		}
	}
	return nil
}

// waitTopic polls the broker at addr until its metadata shows topic with
// every partition led and (for replication > 0) fully replicated.
func waitTopic(ctx context.Context, addr, topic string, partitions int32, replication int16) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last string
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
		if err == nil {
			last = topicState(resp, topic, partitions, replication)
			if last == "" {
				if last = leadersServe(ctx, resp, topic); last == "" {
					return nil
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: topic %s not ready on %s: %s: %w", topic, addr, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// topicState says what is still missing of topic in resp, or "" when ready.
func topicState(resp *kmsg.MetadataResponse, topic string, partitions int32, replication int16) string {
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return err.Error()
		}
		if int32(len(t.Partitions)) != partitions {
			return fmt.Sprintf("%d of %d partitions", len(t.Partitions), partitions)
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 || kerr.ErrorForCode(p.ErrorCode) != nil {
				return fmt.Sprintf("partition %d has no leader", p.Partition)
			}
			if replication > 0 && len(p.ISR) < int(replication) {
				return fmt.Sprintf("partition %d: isr %v", p.Partition, p.ISR)
			}
		}
		return ""
	}
	return "topic not in metadata"
}

// leadersServe asks each partition's leader, as resp names it, for the
// partition's end offset, and says what failed, or "" when all answered.
// Real Kafka publishes a new partition to its metadata cache a moment before
// its replica manager leads it; in that window a produce request gets
// NOT_LEADER_OR_FOLLOWER, which a non-idempotent producer's retry turns into
// reordered batches. ListOffsets is answered by the replica manager, so
// once it answers, produce requests are taken.
func leadersServe(ctx context.Context, resp *kmsg.MetadataResponse, topic string) string {
	addr := map[int32]string{}
	for _, b := range resp.Brokers {
		addr[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	byLeader := map[int32][]int32{}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic {
			for _, p := range t.Partitions {
				byLeader[p.Leader] = append(byLeader[p.Leader], p.Partition)
			}
		}
	}
	for leader, parts := range byLeader {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr[leader]))
		if err != nil {
			return err.Error()
		}
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range parts {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		lresp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
		cl.Close()
		if err != nil {
			return err.Error()
		}
		for _, t := range lresp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Sprintf("partition %d on its leader %d: %v", p.Partition, leader, err)
				}
			}
		}
	}
	return ""
}

// defaultReplication is what replication 0 means on a cluster of n brokers.
func defaultReplication(replication int16, n int) int16 {
	if replication != 0 {
		return replication
	}
	return int16(min(n, 3))
}

// portOf is the port of a host:port address, or 0.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
