package producer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// badRecord is one record the producer must refuse, and the sentinel it
// must refuse it with.
type badRecord struct {
	name string
	rec  *Record
	want error
}

// badRecords is every kind of record Send must refuse. Their values are
// small, so each fails on its own merits; "good" is the topic that exists.
func badRecords() []badRecord {
	v := []byte("bad")
	return []badRecord{
		{"nil record", nil, ErrInvalidRecord},
		{"empty topic", &Record{Value: v}, ErrInvalidRecord},
		{"topic with a space", &Record{Topic: "bad name", Value: v}, ErrInvalidRecord},
		{"topic with a slash", &Record{Topic: "a/b", Value: v}, ErrInvalidRecord},
		{"topic dot", &Record{Topic: ".", Value: v}, ErrInvalidRecord},
		{"topic dot dot", &Record{Topic: "..", Value: v}, ErrInvalidRecord},
		{"topic of 250 characters", &Record{Topic: strings.Repeat("t", 250), Value: v}, ErrInvalidRecord},
		{"topic not ASCII", &Record{Topic: "tópico", Value: v}, ErrInvalidRecord},
		{"value over max.request.size", &Record{Topic: "good", Value: make([]byte, 70<<10)}, ErrRecordTooLarge},
		{"key and headers over max.request.size", &Record{Topic: "good", Key: make([]byte, 40<<10),
			Headers: []Header{{Key: "h", Value: make([]byte, 40<<10)}}}, ErrRecordTooLarge},
		{"partition set without PinPartition", &Record{Topic: "good", Value: v, Partition: 2}, ErrInvalidRecord},
		{"negative partition without PinPartition", &Record{Topic: "good", Value: v, Partition: -1}, ErrInvalidRecord},
		{"partition past the last", &Record{Topic: "good", Value: v, Partition: 3, PinPartition: true}, ErrInvalidRecord},
		{"negative partition", &Record{Topic: "good", Value: v, Partition: -1, PinPartition: true}, ErrInvalidRecord},
		{"unknown topic, auto-creation off", &Record{Topic: "nope", Value: v}, ErrUnknownTopic},
	}
}

// TestBadInputAmongGoodRecords sends each bad record between good ones: the
// bad record is answered before Send returns, once, with its typed error,
// within max.block; the good records around it are all written, once, in
// order.
func TestBadInputAmongGoodRecords(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "good")) // kfake creates no topic on its own
	const maxBlock = 500 * time.Millisecond
	p := newTestProducer(t, c, WithMaxBlock(maxBlock), WithMaxRequestSize(64<<10), WithLinger(5*time.Millisecond))
	ctx := ctxTimeout(t, 60*time.Second)
	l := newLedger(t)
	id := 0
	sendGood := func(n int) {
		for range n {
			rec := l.record("good", id)
			rec.Partition, rec.PinPartition = int32(id%3), true
			p.Send(ctx, rec, l.callback(id))
			id++
		}
	}
	bad := badRecords()
	for _, tc := range bad {
		sendGood(10)
		calls := 0
		var cbErr error
		var cbMD RecordMetadata
		start := time.Now()
		fut := p.Send(ctx, tc.rec, func(md RecordMetadata, err error) { calls++; cbMD, cbErr = md, err })
		took := time.Since(start)
		select {
		case <-fut.Done():
		default:
			t.Fatalf("%s: not answered when Send returned", tc.name)
		}
		if calls != 1 {
			t.Fatalf("%s: callback ran %d times before Send returned, want once", tc.name, calls)
		}
		if !errors.Is(cbErr, tc.want) {
			t.Fatalf("%s: callback got %v, want %v", tc.name, cbErr, tc.want)
		}
		if _, err := fut.Get(ctx); !errors.Is(err, tc.want) || err.Error() != cbErr.Error() {
			t.Fatalf("%s: future got %v, callback %v", tc.name, err, cbErr)
		}
		if cbMD.Offset != -1 {
			t.Fatalf("%s: failed record has offset %d", tc.name, cbMD.Offset)
		}
		if tc.want == ErrUnknownTopic && (took < maxBlock-50*time.Millisecond || took > 5*maxBlock) {
			t.Fatalf("%s: answered after %v, max.block is %v", tc.name, took, maxBlock)
		}
		if tc.want != ErrUnknownTopic && took > maxBlock/2 {
			t.Fatalf("%s: took %v to refuse", tc.name, took)
		}
	}
	sendGood(10)
	l.wait(30 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d good records failed, e.g. %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "good", id))
	if m := p.Metrics(); m.RecordsFailed != int64(len(bad)) || m.RecordsSent != int64(id) {
		t.Fatalf("metrics: %d sent, %d failed; want %d and %d", m.RecordsSent, m.RecordsFailed, id, len(bad))
	}
}

// TestBadInputDoesNotStallOthers sends good records from three goroutines
// (one partition each, so each keeps its order) while a fourth sends bad
// ones, an unknown topic among them: a Send blocked on metadata for the
// unknown topic holds up no one else.
func TestBadInputDoesNotStallOthers(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "good"))
	p := newTestProducer(t, c, WithMaxBlock(time.Second), WithMaxRequestSize(64<<10), WithLinger(time.Millisecond))
	ctx := ctxTimeout(t, 60*time.Second)
	// Id -1: before every ledger record of its partition.
	if _, err := p.SendSync(ctx, &Record{Topic: "good", Value: []byte("v--1"), PinPartition: true}); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	const perWriter = 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var slowest time.Duration
	var mu sync.Mutex
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := 1 + w*perWriter + i
				rec := l.record("good", id)
				rec.Partition, rec.PinPartition = int32(w), true
				if i%100 == 0 {
					// A synchronous one now and then measures how long a good
					// record takes while the bad ones are going on.
					start := time.Now()
					cb := l.callback(id)
					md, err := p.SendSync(ctx, rec)
					cb(md, err)
					mu.Lock()
					slowest = max(slowest, time.Since(start))
					mu.Unlock()
					continue
				}
				p.Send(ctx, rec, l.callback(id))
			}
		}()
	}
	badDone := make(chan int)
	go func() {
		n := 0
		defer func() { badDone <- n }()
		for {
			for _, tc := range badRecords() {
				select {
				case <-stop:
					return
				default:
				}
				_, err := p.Send(ctx, tc.rec, nil).Get(ctx)
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
					return
				}
				n++
			}
		}
	}()
	wg.Wait()
	close(stop)
	nBad := <-badDone
	l.wait(30 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d good records failed, e.g. %v", f, firstErr(l))
	}
	if nBad == 0 {
		t.Fatal("no bad record was sent while the good ones went")
	}
	if slowest > 500*time.Millisecond {
		t.Fatalf("a good synchronous send took %v while bad records were refused (max.block 1s)", slowest)
	}
	l.checkLog(consume(t, c, "good", 1+3*perWriter))
}

// TestInvalidConfigIsTyped feeds New invalid options and properties: each
// fails with ErrInvalidConfig and a message naming the setting, and New
// leaves no goroutine behind.
func TestInvalidConfigIsTyped(t *testing.T) {
	defer leakCheck(t)()
	for _, tc := range []struct {
		name string
		opts []Opt
		says string // the setting the error must name
	}{
		{"no brokers", []Opt{WithBrokers()}, "bootstrap.servers"},
		{"broker without a port", []Opt{WithBrokers("localhost")}, "bootstrap.servers"},
		{"broker with an empty port", []Opt{WithBrokers("localhost:")}, "bootstrap.servers"},
		{"acks 2", []Opt{WithAcks(2)}, "acks"},
		{"negative batch size", []Opt{WithBatchSize(-1)}, "batch.size"},
		{"negative linger", []Opt{WithLinger(-time.Millisecond)}, "linger.ms"},
		{"zero buffer memory", []Opt{WithBufferMemory(0)}, "buffer.memory"},
		{"negative max block", []Opt{WithMaxBlock(-1)}, "max.block.ms"},
		{"tiny max request size", []Opt{WithMaxRequestSize(10)}, "max.request.size"},
		{"zero request timeout", []Opt{WithRequestTimeout(0)}, "request.timeout.ms"},
		{"delivery timeout below linger + request timeout", []Opt{WithDeliveryTimeout(time.Second), WithRequestTimeout(2 * time.Second)}, "delivery.timeout.ms"},
		{"negative retries", []Opt{WithRetries(-1)}, "retries"},
		{"backoff max below backoff", []Opt{WithRetryBackoff(time.Second, time.Millisecond)}, "retry.backoff.max.ms"},
		{"zero in flight", []Opt{WithMaxInFlight(0)}, "max.in.flight.requests.per.connection"},
		{"idempotence with acks 1", []Opt{WithIdempotence(true), WithAcks(AcksLeader)}, "enable.idempotence"},
		{"idempotence with 6 in flight", []Opt{WithIdempotence(true), WithMaxInFlight(6)}, "enable.idempotence"},
		{"idempotence with no retries", []Opt{WithIdempotence(true), WithRetries(0)}, "enable.idempotence"},
		{"transactions without idempotence", []Opt{WithTransactionalID("x"), WithIdempotence(false)}, "enable.idempotence"},
		{"zero transaction timeout", []Opt{WithTransactionTimeout(0)}, "transaction.timeout.ms"},
		{"unknown codec", []Opt{WithCompression(Compression(42))}, "compression.type"},
		{"gzip level 42", []Opt{WithCompressionLevel(CompressionGzip, 42)}, "compression.gzip.level"},
		{"zero metadata max age", []Opt{WithMetadataMaxAge(0)}, "metadata.max.age.ms"},
		{"reconnect backoff max below backoff", []Opt{WithReconnectBackoff(time.Second, 0)}, "reconnect.backoff.ms"},
		{"zero dial timeout", []Opt{WithDialTimeout(0)}, "socket.connection.setup.timeout"},
		{"negative availability timeout", []Opt{WithPartitionerAvailabilityTimeout(-1)}, "partitioner.availability.timeout.ms"},
		{"unknown property", []Opt{WithProperties(map[string]string{"linger": "5"})}, "linger"},
		{"property not a number", []Opt{WithProperties(map[string]string{"batch.size": "big"})}, "batch.size"},
		{"property out of int32", []Opt{WithProperties(map[string]string{"retries": "99999999999"})}, "retries"},
		{"property not a bool", []Opt{WithProperties(map[string]string{"enable.idempotence": "yes"})}, "enable.idempotence"},
		{"acks property", []Opt{WithProperties(map[string]string{"acks": "2"})}, "acks"},
		{"compression property", []Opt{WithProperties(map[string]string{"compression.type": "brotli"})}, "compression.type"},
		{"security protocol", []Opt{WithProperties(map[string]string{"security.protocol": "TLS"})}, "security.protocol"},
		{"sasl mechanism", []Opt{WithProperties(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI"})}, "sasl.mechanism"},
		{"sasl without jaas", []Opt{WithProperties(map[string]string{"security.protocol": "SASL_PLAINTEXT"})}, "sasl.jaas.config"},
		{"jaas without username", []Opt{WithProperties(map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.jaas.config": "x required;"})}, "sasl.jaas.config"},
		{"truststore missing", []Opt{WithProperties(map[string]string{"security.protocol": "SSL", "ssl.truststore.location": "/nonexistent/ca.pem"})}, "ssl.truststore.location"},
		{"truststore not PEM", []Opt{WithProperties(map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "JKS"})}, "ssl.truststore.type"},
		{"ssl settings without protocol", []Opt{WithProperties(map[string]string{"ssl.truststore.location": "/tmp/x"})}, "security.protocol"},
		{"partitioner class", []Opt{WithProperties(map[string]string{"partitioner.class": "com.example.Mine"})}, "partitioner.class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.opts...)
			if err == nil {
				_ = p.Close(context.Background())
				t.Fatal("New accepted it")
			}
			if p != nil {
				t.Fatal("New returned a producer with its error")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%q does not name %s", err, tc.says)
			}
		})
	}
}

// TestUseAfterClose checks every call on a closed producer: each fails at
// once with ErrClosed, callbacks run once, and nothing reaches the broker.
func TestUseAfterClose(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "t", Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sentBefore := p.Metrics().RecordsSent
	calls := 0
	start := time.Now()
	fut := p.Send(ctx, &Record{Topic: "t", Value: []byte("after")}, func(_ RecordMetadata, err error) {
		calls++
		if !errors.Is(err, ErrClosed) {
			t.Errorf("callback: %v, want ErrClosed", err)
		}
	})
	if _, err := fut.Get(ctx); !errors.Is(err, ErrClosed) || calls != 1 {
		t.Fatalf("Send: %v with %d callbacks, want ErrClosed once", err, calls)
	}
	if _, err := p.TrySend(ctx, &Record{Topic: "t"}, nil).Get(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("TrySend: %v", err)
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendSync: %v", err)
	}
	if err := p.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush: %v", err)
	}
	if _, err := p.PartitionsFor(ctx, "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("PartitionsFor: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("calls on a closed producer took %v", d)
	}
	if got := p.Metrics().RecordsSent; got != sentBefore {
		t.Fatalf("%d records sent after Close", got-sentBefore)
	}
}
