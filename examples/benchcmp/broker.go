package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/brokerproc"
	"github.com/kprod/kprod/internal/kafkatest"
)

// The brokers benchcmp runs against (-broker).
const (
	brokerKfake = "kfake" // kfake acknowledging produce requests without storing them, in a process of its own
	brokerKafka = "kafka" // one Apache Kafka node (KRaft), run from the jars kafka/fetch.sh cached
)

// errBroker wraps a broker that could not be started or set up.
var errBroker = errors.New("benchcmp: broker")

// broker is the one broker process every run of a comparison writes to.
type broker interface {
	Addrs() []string
	// pid is the broker's process, whose CPU time is charged per record.
	pid() int
	// createTopic creates topic with partitions partitions (replication 1)
	// and returns once its leaders serve.
	createTopic(ctx context.Context, topic string, partitions int) error
	// describe is the broker's line in the report's header.
	describe() string
	stop()
}

// startBroker starts the broker -broker names: kfake as the re-executed
// benchcmp binary self, Kafka as a JVM.
func startBroker(ctx context.Context, kind, self string) (broker, error) {
	switch kind {
	case brokerKfake:
		p, err := brokerproc.StartProgram(ctx, brokerproc.Spec{Blackhole: true}, self)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBroker, err)
		}
		return &kfakeBroker{p: p}, nil
	case brokerKafka:
		k, err := kafkatest.Launch(ctx, kafkatest.KafkaConfig{HeapMB: 1024})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBroker, err)
		}
		if len(k.Pids()) != 1 {
			k.Close()
			return nil, fmt.Errorf("%w: Kafka runs %d processes, want 1", errBroker, len(k.Pids()))
		}
		return &kafkaBroker{k: k}, nil
	}
	return nil, fmt.Errorf("%w: -broker %q (want %s or %s)", errUsage, kind, brokerKfake, brokerKafka)
}

// kfakeBroker is the blackhole kfake process.
type kfakeBroker struct{ p *brokerproc.Proc }

func (b *kfakeBroker) Addrs() []string { return b.p.Addrs() }
func (b *kfakeBroker) pid() int        { return b.p.Pid() }
func (b *kfakeBroker) stop()           { _ = b.p.Kill() }
func (b *kfakeBroker) describe() string {
	return fmt.Sprintf("one kfake broker acknowledging produce requests without storing them (blackhole), pid %d", b.p.Pid())
}

func (b *kfakeBroker) createTopic(ctx context.Context, topic string, partitions int) error {
	return createTopic(ctx, b.Addrs(), topic, partitions)
}

// kafkaBroker is a real single-node Apache Kafka.
type kafkaBroker struct{ k *kafkatest.Kafka }

func (b *kafkaBroker) Addrs() []string { return b.k.Addrs() }
func (b *kafkaBroker) pid() int {
	if pids := b.k.Pids(); len(pids) > 0 {
		return pids[0]
	}
	return 0 // exited: reading its CPU time fails
}
func (b *kafkaBroker) stop() { b.k.Close() }
func (b *kafkaBroker) describe() string {
	return fmt.Sprintf("one Apache Kafka %s node (KRaft, 1 GiB heap, data on the local disk), pid %d", kafkatest.Version, b.pid())
}

func (b *kafkaBroker) createTopic(ctx context.Context, topic string, partitions int) error {
	return b.k.CreateTopicContext(ctx, topic, int32(partitions), 1, nil)
}

// createTopic creates topic on the cluster at addrs and waits until its
// metadata lists a leader for every partition.
func createTopic(ctx context.Context, addrs []string, topic string, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, int32(partitions), 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("%w: creating %q: %w", errBroker, topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("%w: creating %q: %w", errBroker, topic, err)
		}
	}
	for {
		md := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(topic)
		md.Topics = append(md.Topics, mt)
		mresp, err := md.RequestWith(ctx, cl)
		if err == nil && len(mresp.Topics) == 1 && len(mresp.Topics[0].Partitions) == partitions {
			led := 0
			for _, p := range mresp.Topics[0].Partitions {
				if p.ErrorCode == 0 && p.Leader >= 0 {
					led++
				}
			}
			if led == partitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: topic %q has no leaders yet: %w", errBroker, topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// joinAddrs is a broker list as clients take it in one string.
func joinAddrs(addrs []string) string { return strings.Join(addrs, ",") }
