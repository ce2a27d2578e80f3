package producer_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/partitioner"
	"github.com/kprod/kprod/producer"
)

// cluster starts an embedded 3-broker cluster with topic "orders" (3
// partitions) for the examples; real code passes its own brokers.
func cluster() (*kfake.Cluster, []string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "orders"))
	if err != nil {
		log.Fatal(err)
	}
	return c, c.ListenAddrs()
}

// Fire and forget: Send returns at once; Close sends what is buffered.
func ExampleProducer_Send() {
	c, brokers := cluster()
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(brokers...))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		p.Send(ctx, &producer.Record{Topic: "orders", Value: fmt.Appendf(nil, "order %d", i)}, nil)
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("records sent:", p.Metrics().RecordsSent)
	// Output: records sent: 10
}

// A callback receives each record's outcome exactly once.
func ExampleProducer_Send_callback() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...))
	done := make(chan struct{})
	p.Send(context.Background(), &producer.Record{Topic: "orders", Value: []byte("paid"), Partition: 1, PinPartition: true},
		func(md producer.RecordMetadata, err error) {
			fmt.Printf("%s/%d@%d err=%v\n", md.Topic, md.Partition, md.Offset, err)
			close(done)
		})
	<-done
	p.Close(context.Background())
	// Output: orders/1@0 err=<nil>
}

// Wait for one record's answer through its Future, bounded by a timeout.
func ExampleFuture_Get() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...))
	defer p.Close(context.Background())

	fut := p.Send(context.Background(), &producer.Record{Topic: "orders", Value: []byte("shipped"), Partition: 0, PinPartition: true}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := fut.Get(ctx)
	fmt.Println(md.Partition, md.Offset, err)
	// Output: 0 0 <nil>
}

// SendSync is the one-liner: send and wait, without waiting out linger.
func ExampleProducer_SendSync() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...), producer.WithLinger(time.Second))
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Value: []byte("hi"), Partition: 2, PinPartition: true})
	fmt.Println(md.Topic, md.Partition, md.Offset, err)
	// Output: orders 2 0 <nil>
}

// An explicit partition always wins over keys and partitioners.
func ExampleRecord_pinPartition() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...))
	defer p.Close(context.Background())

	md, _ := p.SendSync(context.Background(), &producer.Record{Topic: "orders", Key: []byte("any"), Value: []byte("v"), Partition: 2, PinPartition: true})
	fmt.Println("partition", md.Partition)
	// Output: partition 2
}

// Keyed records land where the Java client puts them: murmur2 of the key.
func ExampleRecord_key() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...))
	defer p.Close(context.Background())

	for _, key := range []string{"alice", "bob", "carol", "alice"} {
		md, _ := p.SendSync(context.Background(), &producer.Record{Topic: "orders", Key: []byte(key), Value: []byte("v")})
		fmt.Println(key, md.Partition == partitioner.KeyPartition([]byte(key), 3))
	}
	// Output:
	// alice true
	// bob true
	// carol true
	// alice true
}

// A custom partitioner: values containing "hello" go to partition 0, the rest to 1.
func ExampleWithPartitioner() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...),
		producer.WithPartitioner(partitioner.Func(func(_ string, _, value []byte, _ int) int32 {
			if bytes.Contains(value, []byte("hello")) {
				return 0
			}
			return 1
		})))
	defer p.Close(context.Background())

	for _, v := range []string{"hello there", "bye", "oh hello"} {
		md, _ := p.SendSync(context.Background(), &producer.Record{Topic: "orders", Value: []byte(v)})
		fmt.Printf("%q -> %d\n", v, md.Partition)
	}
	// Output:
	// "hello there" -> 0
	// "bye" -> 1
	// "oh hello" -> 0
}

// Throughput tuning: linger longer, bigger batches, compression, more memory.
func ExampleWithLinger_throughput() {
	c, brokers := cluster()
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(brokers...),
		producer.WithLinger(20*time.Millisecond),
		producer.WithBatchSize(256<<10),
		producer.WithCompression(producer.CompressionLZ4),
		producer.WithBufferMemory(128<<20))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 100)
	for range 10_000 {
		p.Send(ctx, &producer.Record{Topic: "orders", Value: value}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	m := p.Metrics()
	fmt.Println("sent:", m.RecordsSent, "compressed:", m.CompressionRatio < 0.5)
	p.Close(ctx)
	// Output: sent: 10000 compressed: true
}

// Typed records go through serializers first.
func ExampleNewTyped() {
	c, brokers := cluster()
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(brokers...))
	defer p.Close(context.Background())

	type Order struct {
		ID   int    `json:"id"`
		Item string `json:"item"`
	}
	orders := producer.NewTyped[string, Order](p, producer.StringSerializer{}, producer.JSONSerializer[Order]{})
	md, err := orders.SendSync(context.Background(), producer.TypedRecord[string, Order]{
		Topic: "orders", Key: "user-7", Value: Order{ID: 1, Item: "tea"}, Partition: 0, PinPartition: true})
	fmt.Println(md.Offset, err)
	// Output: 0 <nil>
}
