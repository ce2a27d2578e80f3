package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// embedded starts an embedded cluster with the given topics (one partition
// each) for an example; real code passes its own brokers.
func embedded(topics ...string) *producertest.Cluster {
	var opts []producertest.ClusterOpt
	for _, t := range topics {
		opts = append(opts, producertest.WithTopic(t, 1))
	}
	c, err := producertest.StartCluster(opts...)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Flush sends what is buffered now, without waiting out linger, and returns
// once every record sent before it is answered and its callback ran.
func ExampleProducer_Flush() {
	c := embedded("events")
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithLinger(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	var acked atomic.Int64
	ctx := context.Background()
	for i := range 100 {
		p.Send(ctx, &producer.Record{Topic: "events", Value: fmt.Appendf(nil, "e%d", i)},
			func(_ producer.RecordMetadata, err error) {
				if err == nil {
					acked.Add(1)
				}
			})
	}
	// Without Flush these would wait for linger (a minute) or a full batch.
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Flush(flushCtx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("acknowledged:", acked.Load())
	// Output: acknowledged: 100
}

// Close with a deadline: what is buffered is sent and answered; whatever is
// left when the deadline passes fails with ErrClosed. Sends after Close fail
// at once.
func ExampleProducer_Close() {
	c := embedded("events")
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	fut := p.Send(context.Background(), &producer.Record{Topic: "events", Value: []byte("last words")}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		log.Print("close: ", err) // the deadline passed; the rest failed with ErrClosed
	}
	_, err = fut.Get(ctx)
	fmt.Println("buffered record:", err)

	_, err = p.SendSync(ctx, &producer.Record{Topic: "events", Value: []byte("too late")})
	fmt.Println("after Close:", errors.Is(err, producer.ErrClosed))
	// Output:
	// buffered record: <nil>
	// after Close: true
}

// Metrics is a snapshot of the producer's counters, for dashboards and logs.
func ExampleProducer_Metrics() {
	c := embedded("events")
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...))
	defer p.Close(context.Background())

	for i := range 5 {
		if _, err := p.SendSync(context.Background(), &producer.Record{Topic: "events", Value: fmt.Appendf(nil, "e%d", i)}); err != nil {
			log.Fatal(err)
		}
	}
	m := p.Metrics() // a record is counted by the time its Future resolves
	fmt.Println("sent:", m.RecordsSent, "failed:", m.RecordsFailed)
	fmt.Println("requests:", m.RequestsSent > 0, "latency measured:", m.SendLatencyMax > 0)
	// Output:
	// sent: 5 failed: 0
	// requests: true latency measured: true
}

// TrySend never waits for buffer memory: while the brokers cannot take
// records (here every produce request fails with a retriable error, so the
// producer keeps its records and retries) the buffer fills, and TrySend
// refuses at once with ErrBufferFull instead of blocking the caller.
func ExampleProducer_TrySend() {
	c := embedded("events")
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...),
		producer.WithBatchSize(1024), producer.WithBufferMemory(8<<10))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "events", Value: []byte("warm up")}); err != nil {
		log.Fatal(err)
	}

	outage := c.FailNextProduce("events", -1, kerr.NotEnoughReplicas)
	value := make([]byte, 900)
	accepted := []producer.Future{p.TrySend(ctx, &producer.Record{Topic: "events", Value: value}, nil)}
	if err := outage.Wait(ctx, 1); err != nil { // the brokers refused it: it waits to be retried
		log.Fatal(err)
	}
	for {
		fut := p.TrySend(ctx, &producer.Record{Topic: "events", Value: value}, nil)
		select {
		case <-fut.Done(): // a refused record is answered before TrySend returns
			_, err := fut.Get(ctx)
			fmt.Println("refused at once with ErrBufferFull:", errors.Is(err, producer.ErrBufferFull))
		default:
			accepted = append(accepted, fut) // buffered, waiting for the brokers
			continue
		}
		break
	}
	outage.Remove()
	delivered := 0
	for _, fut := range accepted {
		if _, err := fut.Get(ctx); err == nil {
			delivered++
		}
	}
	fmt.Println("accepted records delivered once the brokers recovered:", delivered == len(accepted))
	// Output:
	// refused at once with ErrBufferFull: true
	// accepted records delivered once the brokers recovered: true
}

// WithProperties takes the Java producer's property names, so an existing
// configuration carries over; an unknown key or a bad value is an error
// naming it.
func ExampleWithProperties() {
	c := embedded("events")
	defer c.Close()
	p, err := producer.New(producer.WithProperties(map[string]string{
		"bootstrap.servers":  strings.Join(c.Addrs(), ","),
		"acks":               "all",
		"linger.ms":          "10",
		"compression.type":   "lz4",
		"enable.idempotence": "true",
		"client.id":          "billing",
	}))
	if err != nil {
		log.Fatal(err)
	}
	md, err := p.SendSync(context.Background(), &producer.Record{Topic: "events", Value: []byte("v")})
	fmt.Println(md.Offset, err)
	p.Close(context.Background())

	_, err = producer.New(producer.WithProperties(map[string]string{"linger.ms": "soon"}))
	fmt.Println("bad value:", errors.Is(err, producer.ErrInvalidConfig))
	_, err = producer.New(producer.WithProperties(map[string]string{"no.such.setting": "1"}))
	fmt.Println("unknown key:", errors.Is(err, producer.ErrInvalidConfig))
	// Output:
	// 0 <nil>
	// bad value: true
	// unknown key: true
}

// Interceptors see every record on its way in and every answer on its way
// out: here one stamps a header on each record (on a copy: the caller's
// record is not modified) and counts the answers.
func ExampleWithInterceptors() {
	c := embedded("events")
	defer c.Close()
	var acks, failures atomic.Int64
	stamp := producer.InterceptorFuncs{
		Send: func(rec *producer.Record) *producer.Record {
			out := *rec
			out.Headers = append(append([]producer.Header(nil), rec.Headers...), producer.Header{Key: "origin", Value: []byte("checkout")})
			return &out
		},
		Ack: func(_ producer.RecordMetadata, err error) {
			if err != nil {
				failures.Add(1)
				return
			}
			acks.Add(1)
		},
	}
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithInterceptors(stamp))
	ctx := context.Background()
	for i := range 3 {
		p.Send(ctx, &producer.Record{Topic: "events", Value: fmt.Appendf(nil, "e%d", i)}, nil)
	}
	p.Close(ctx)
	fmt.Println("acks:", acks.Load(), "failures:", failures.Load())

	recs, err := c.Records(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%s origin=%s\n", r.Value, r.Headers[0].Value)
	}
	// Output:
	// acks: 3 failures: 0
	// e0 origin=checkout
	// e1 origin=checkout
	// e2 origin=checkout
}

// A transactional producer: records of a committed transaction become
// visible together; those of an aborted one never do (to read_committed
// consumers).
func ExampleProducer_BeginTransaction() {
	c := embedded("orders", "audit")
	defer c.Close()
	p, err := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithTransactionalID("orders-writer-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Once per producer: fences older producers with the same id.
	if err := p.InitTransactions(ctx); err != nil {
		log.Fatal(err)
	}

	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	p.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("order 1")}, nil)
	p.Send(ctx, &producer.Record{Topic: "audit", Value: []byte("order 1 placed")}, nil)
	if err := p.CommitTransaction(ctx); err != nil { // sends, waits for the acks, commits
		log.Fatal(err)
	}

	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	if _, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Value: []byte("order 2")}); err != nil {
		log.Fatal(err)
	}
	if err := p.AbortTransaction(ctx); err != nil { // order 2 is in the log, but aborted
		log.Fatal(err)
	}

	for _, topic := range []string{"orders", "audit"} {
		recs, err := c.CommittedRecords(ctx, topic)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range recs {
			fmt.Printf("%s: %s\n", topic, r.Value)
		}
	}
	// Output:
	// orders: order 1
	// audit: order 1 placed
}

// What to do with each error CommitTransaction can return.
func ExampleProducer_CommitTransaction() {
	c := embedded("orders")
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithTransactionalID("orders-writer-2"))
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		log.Fatal(err)
	}

	// The broker refuses the next produce request for good, so a record of
	// the transaction fails and the transaction cannot commit.
	c.FailNextProduce("orders", 1, kerr.PolicyViolation)
	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	p.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("order 3")}, nil)

	switch err := p.CommitTransaction(ctx); {
	case err == nil:
		fmt.Println("committed")
	case errors.Is(err, producer.ErrFenced):
		fmt.Println("another instance took over: stop")
	case errors.Is(err, producer.ErrTxnTimeout):
		fmt.Println("no answer in time: CommitTransaction may be called again")
	case errors.Is(err, producer.ErrAbortable):
		fmt.Println("a record failed: abort, then carry on")
		if err := p.AbortTransaction(ctx); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatal(err)
	}

	// The next transaction is fine.
	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	p.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("order 3, again")}, nil)
	fmt.Println("second attempt:", p.CommitTransaction(ctx))
	// Output:
	// a record failed: abort, then carry on
	// second attempt: <nil>
}

// In a consume-transform-produce loop, the input offsets commit in the same
// transaction as the output, so each input record is processed exactly once.
func ExampleProducer_SendOffsetsToTransaction() {
	c := embedded("payments", "ledger")
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...), producer.WithTransactionalID("ledger-writer"))
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		log.Fatal(err)
	}

	// Say a consumer of group "ledger" read payments/0 up to offset 41.
	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	p.Send(ctx, &producer.Record{Topic: "ledger", Value: []byte("entries for payments 0..41")}, nil)
	err := p.SendOffsetsToTransaction(ctx,
		map[string]map[int32]producer.OffsetAndMetadata{"payments": {0: {Offset: 42, LeaderEpoch: -1}}},
		producer.GroupMetadata{GroupID: "ledger", Generation: -1}) // a consumer in a group passes its generation and member id
	if err != nil {
		log.Fatal(err)
	}
	if err := p.CommitTransaction(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("group ledger resumes payments/0 at", committedOffset(ctx, c.Addrs(), "ledger", "payments", 0))
	// Output: group ledger resumes payments/0 at 42
}

// committedOffset asks the group coordinator for a group's committed offset.
func committedOffset(ctx context.Context, brokers []string, group, topic string, partition int32) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		log.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		log.Fatal(err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == partition {
				return p.Offset
			}
		}
	}
	return -1
}

// NewFuture makes a Future that code of your own answers: a fake in a test,
// or a front end that answers some records without the producer. The zero
// Future answers ErrInvalidFuture rather than panicking.
func ExampleNewFuture() {
	fut, complete := producer.NewFuture()
	go complete(producer.RecordMetadata{Topic: "orders", Partition: 0, Offset: 7}, nil)
	md, err := fut.Get(context.Background())
	fmt.Println(md.Topic, md.Partition, md.Offset, err)

	var zero producer.Future
	_, err = zero.Get(context.Background())
	fmt.Println(errors.Is(err, producer.ErrInvalidFuture))
	// Output:
	// orders 0 7 <nil>
	// true
}

// publishSignup is service code: it takes a producer.Client, so the service
// passes its *producer.Producer and unit tests a producertest.MockProducer.
func publishSignup(ctx context.Context, p producer.Client, user string) (producer.RecordMetadata, error) {
	return p.SendSync(ctx, &producer.Record{Topic: "signups", Key: []byte(user), Value: []byte("welcome")})
}

// Code that takes a Client runs on the real producer and on the mock alike.
func ExampleClient() {
	c := embedded("signups")
	defer c.Close()
	p, _ := producer.New(producer.WithBrokers(c.Addrs()...))
	defer p.Close(context.Background())
	mock := producertest.NewMockProducer()

	for _, client := range []producer.Client{p, mock} {
		md, err := publishSignup(context.Background(), client, "ada")
		fmt.Printf("%T: %s/%d@%d %v\n", client, md.Topic, md.Partition, md.Offset, err)
	}
	// Output:
	// *producer.Producer: signups/0@0 <nil>
	// *producertest.MockProducer: signups/0@0 <nil>
}
