package producertest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// notifySignup is code under test: it takes a producer.Client, so the
// service passes its *producer.Producer and tests a MockProducer.
func notifySignup(ctx context.Context, p producer.Client, user string) error {
	_, err := p.SendSync(ctx, &producer.Record{Topic: "signups", Key: []byte(user), Value: []byte("welcome " + user)})
	return err
}

// By default the mock acknowledges every record during Send; History shows
// what was sent.
func ExampleMockProducer() {
	mock := producertest.NewMockProducer(producertest.WithPartitions("signups", 4))
	if err := notifySignup(context.Background(), mock, "ada"); err != nil {
		log.Fatal(err)
	}
	for _, s := range mock.History() {
		fmt.Printf("%s key=%s value=%q partition=%d offset=%d\n", s.Record.Topic, s.Record.Key, s.Record.Value, s.Partition, s.Offset)
	}

	// The error path: the next record fails as if its delivery timed out.
	mock.FailNext(1, producer.ErrDeliveryTimeout)
	err := notifySignup(context.Background(), mock, "bob")
	fmt.Println(errors.Is(err, producer.ErrDeliveryTimeout))
	// Output:
	// signups key=ada value="welcome ada" partition=1 offset=0
	// true
}

// With ManualCompletion records wait until the test answers them, oldest
// first: to check what the code does while an answer is outstanding, and
// with each kind of answer.
func ExampleMockProducer_manual() {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	ctx := context.Background()
	report := func(md producer.RecordMetadata, err error) {
		fmt.Printf("answered: offset=%d err=%v\n", md.Offset, err)
	}
	mock.Send(ctx, &producer.Record{Topic: "t", Value: []byte("a")}, report)
	mock.Send(ctx, &producer.Record{Topic: "t", Value: []byte("b")}, report)
	mock.Send(ctx, &producer.Record{Topic: "t", Value: []byte("c")}, report)
	fmt.Println("pending:", mock.Pending())

	mock.CompleteNext()                         // a: acknowledged at offset 0
	mock.ErrorNext(producer.ErrDeliveryTimeout) // b: failed
	mock.Close(ctx)                             // c: still pending, fails with ErrClosed
	_, err := mock.SendSync(ctx, &producer.Record{Topic: "t"})
	fmt.Println("after Close:", errors.Is(err, producer.ErrClosed))
	// Output:
	// pending: 3
	// answered: offset=0 err=<nil>
	// answered: offset=-1 err=producer: delivery timeout
	// answered: offset=-1 err=producer: closed: closed before the record was answered
	// after Close: true
}

// A transactional mock follows the producer's state machine and remembers
// how each transaction ended.
func ExampleMockProducer_transactions() {
	mock := producertest.NewMockProducer(producertest.WithTransactionalID("tx"))
	ctx := context.Background()
	if err := mock.InitTransactions(ctx); err != nil {
		log.Fatal(err)
	}

	mock.BeginTransaction()
	mock.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("kept")}, nil)
	mock.SendOffsetsToTransaction(ctx, map[string]map[int32]producer.OffsetAndMetadata{"input": {0: {Offset: 10, LeaderEpoch: -1}}},
		producer.GroupMetadata{GroupID: "g", Generation: -1})
	fmt.Println("commit:", mock.CommitTransaction(ctx))

	mock.BeginTransaction()
	mock.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("dropped")}, nil)
	fmt.Println("abort:", mock.AbortTransaction(ctx))

	_, err := mock.SendSync(ctx, &producer.Record{Topic: "orders", Value: []byte("outside")})
	fmt.Println("outside a transaction:", errors.Is(err, producer.ErrInvalidState))

	for _, s := range mock.History() {
		fmt.Printf("%s: %v\n", s.Record.Value, s.Txn)
	}
	fmt.Println("offsets:", mock.Offsets()[0].Txn)
	// Output:
	// commit: <nil>
	// abort: <nil>
	// outside a transaction: true
	// kept: committed
	// dropped: aborted
	// outside: none
	// offsets: committed
}

// An embedded cluster for a program or an example (tests call NewCluster,
// which stops it with the test), and a read-back of what landed.
func ExampleStartCluster() {
	c, err := producertest.StartCluster(producertest.WithTopic("signups", 2))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, user := range []string{"ada", "bob"} {
		if err := notifySignup(ctx, p, user); err != nil {
			log.Fatal(err)
		}
	}
	p.Close(ctx)

	recs, err := c.Records(ctx, "signups")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("partition %d offset %d: %s\n", r.Partition, r.Offset, r.Value)
	}
	// Output:
	// partition 0 offset 0: welcome bob
	// partition 1 offset 0: welcome ada
}

// Fault hooks: the producer rides out retriable errors on its own; a
// non-retriable one reaches the caller.
func ExampleCluster_FailNextProduce() {
	c, err := producertest.StartCluster(producertest.WithTopic("signups", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...))
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c.FailNextProduce("signups", 2, kerr.NotLeaderForPartition) // retriable
	fmt.Println("after 2 retriable errors:", notifySignup(ctx, p, "ada"))

	c.FailNextProduce("signups", 1, kerr.PolicyViolation) // not retriable
	err = notifySignup(ctx, p, "bob")
	fmt.Println("policy violation reaches the caller:", errors.Is(err, kerr.PolicyViolation))
	// Output:
	// after 2 retriable errors: <nil>
	// policy violation reaches the caller: true
}
