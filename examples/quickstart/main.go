// Command quickstart walks through kprod's ways of sending records: fire and
// forget, with a callback, synchronously with a timeout, to an explicit
// partition, by key, and through a custom partitioner. With no flags it runs
// against an embedded 3-broker cluster (kfake); with -brokers it uses yours;
// with -kafka it starts a single Apache Kafka node (run kafka/fetch.sh once
// first) and stops it at the end.
// It exits 0 only if every record was acknowledged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/partitioner"
	"github.com/kprod/kprod/producer"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated host:port list; empty starts an embedded cluster")
	topic := flag.String("topic", "first", "topic to write to")
	kafka := flag.Bool("kafka", false, "start a single-node Apache Kafka from the jars kafka/fetch.sh fetched and run against it")
	flag.Parse()
	if err := runWith(*kafka, *brokers, *topic); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// runWith runs the walkthrough, on a real Kafka node it starts and stops
// when useKafka is set.
func runWith(useKafka bool, brokers, topic string) error {
	if !useKafka {
		return run(brokers, topic)
	}
	if brokers != "" {
		return errors.New("-kafka and -brokers exclude each other")
	}
	seeds, stop, err := startKafka(topic)
	if err != nil {
		return err
	}
	defer stop()
	return run(strings.Join(seeds, ","), topic)
}

func run(brokers, topic string) error {
	seeds := strings.Split(brokers, ",")
	if brokers == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, topic))
		if err != nil {
			return err
		}
		defer c.Close()
		seeds = c.ListenAddrs()
		fmt.Printf("embedded cluster at %s, topic %q with 3 partitions\n", strings.Join(seeds, ","), topic)
	}

	p, err := producer.New(producer.WithBrokers(seeds...), producer.WithClientID("quickstart"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		mu     sync.Mutex
		failed []error
		acked  int
	)
	report := func(flow string) producer.Callback {
		return func(md producer.RecordMetadata, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", flow, err))
				return
			}
			acked++
			fmt.Printf("%-22s topic=%s partition=%d offset=%d\n", flow, md.Topic, md.Partition, md.Offset)
		}
	}

	// 1. Fire and forget: no callback; the Future is there if you want it later.
	futures := make([]producer.Future, 0, 3)
	for i := range 3 {
		futures = append(futures, p.Send(ctx, &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "async %d", i)}, nil))
	}

	// 2. With a callback: runs once per record, off the network path.
	for i := range 3 {
		p.Send(ctx, &producer.Record{Topic: topic, Value: fmt.Appendf(nil, "callback %d", i)}, report("callback"))
	}

	// 3. Synchronous: wait for the answer, bounded by a timeout.
	syncCtx, syncCancel := context.WithTimeout(ctx, 10*time.Second)
	md, err := p.SendSync(syncCtx, &producer.Record{Topic: topic, Value: []byte("sync")})
	syncCancel()
	report("sync (SendSync)")(md, err)

	// ... or through the Future of an asynchronous send.
	fut := p.Send(ctx, &producer.Record{Topic: topic, Value: []byte("sync via Get")}, nil)
	getCtx, getCancel := context.WithTimeout(ctx, 10*time.Second)
	md, err = fut.Get(getCtx)
	getCancel()
	report("sync (Future.Get)")(md, err)

	// 4. Explicit partition: always wins.
	p.Send(ctx, &producer.Record{Topic: topic, Value: []byte("pinned"), Partition: 2, PinPartition: true}, report("explicit partition 2"))

	// 5. By key: murmur2, so the same key lands where the Java client puts it.
	for _, k := range []string{"alice", "bob", "alice"} {
		p.Send(ctx, &producer.Record{Topic: topic, Key: []byte(k), Value: []byte("keyed")}, report("key "+k))
	}

	for _, f := range futures {
		md, err := f.Get(ctx)
		report("async (fire&forget)")(md, err)
	}
	if err := p.Close(ctx); err != nil {
		return err
	}

	// 6. Custom partitioner: values containing "hello" go to partition 0, others to 1.
	custom, err := producer.New(producer.WithBrokers(seeds...), producer.WithClientID("quickstart-custom"),
		producer.WithPartitioner(partitioner.Func(func(_ string, _, value []byte, _ int) int32 {
			if strings.Contains(string(value), "hello") {
				return 0
			}
			return 1
		})))
	if err != nil {
		return err
	}
	for _, v := range []string{"hello world", "goodbye", "say hello"} {
		custom.Send(ctx, &producer.Record{Topic: topic, Value: []byte(v)}, report(fmt.Sprintf("custom %q", v)))
	}
	if err := custom.Close(ctx); err != nil {
		return err
	}

	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		return fmt.Errorf("%d records failed: %w", len(failed), errors.Join(failed...))
	}
	fmt.Printf("all %d records acknowledged\n", acked)
	return nil
}
