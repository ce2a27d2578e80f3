package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
)

// startKafka starts one Apache Kafka node (KRaft, a child process run from
// the jars kafka/fetch.sh cached) and creates topic with 3 partitions.
//
// This is the walkthrough's only use of a kprod package that is not public:
// the test harness knows how to run Kafka. A program copied from this
// example passes -brokers instead.
func startKafka(topic string) (seeds []string, stop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*kafkatest.ReadyTimeout)
	defer cancel()
	start := time.Now()
	fmt.Printf("starting Apache Kafka %s from %s/lib ...\n", kafkatest.Version, kafkatest.Home())
	k, err := kafkatest.Launch(ctx, kafkatest.KafkaConfig{})
	if err != nil {
		return nil, nil, err
	}
	if err := k.CreateTopicContext(ctx, topic, 3, 1, nil); err != nil {
		k.Close()
		return nil, nil, err
	}
	fmt.Printf("Kafka node at %s (pid %v), ready in %v; topic %q with 3 partitions\n",
		strings.Join(k.Addrs(), ","), k.Pids(), time.Since(start).Round(time.Millisecond), topic)
	return k.Addrs(), func() {
		k.Close()
		fmt.Println("Kafka node stopped")
	}, nil
}
