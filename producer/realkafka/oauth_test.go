package realkafka_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/kafkatest/kprodtest"
	"github.com/kprod/kprod/producer"
)

// TestOAuthBearerReauth produces through a real broker's SASL_PLAINTEXT
// listener with OAUTHBEARER, configured by Java properties only (the
// unsecured JWT of development setups), for four periods of a 3 s
// connections.max.reauth.ms: the producer replaces its connections before
// each session ends, no record fails, and every one is read back once, in
// order, at its offset. A token without the scope the broker requires, and
// a mechanism the listener does not enable, fail with ErrSASL.
func TestOAuthBearerReauth(t *testing.T) {
	kafkatest.RequireKafka(t)
	const reauth = 3 * time.Second
	k := kafkatest.StartKafka(t, kafkatest.KafkaConfig{
		OAuthBearer: &kafkatest.OAuthBearerListener{RequiredScope: "kprod", ReauthMs: int(reauth / time.Millisecond)},
	})
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, 3, 1, nil)
	props := func(jaasOpts string) map[string]string {
		return map[string]string{
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism":    "OAUTHBEARER",
			"sasl.jaas.config":  "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required " + jaasOpts + ";",
		}
	}

	var dials atomic.Int32
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	p := newProducerAt(t, k.SASLAddrs(), producer.WithDialer(dialer), producer.WithLinger(5*time.Millisecond),
		producer.WithProperties(props(`unsecuredLoginStringClaim_sub="alice" unsecuredLoginStringClaim_scope="kprod"`)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type answer struct {
		md  producer.RecordMetadata
		err error
	}
	var mu sync.Mutex
	answers := map[int]answer{}
	var wg sync.WaitGroup
	n := 0
	for start := time.Now(); time.Since(start) < 4*reauth; time.Sleep(20 * time.Millisecond) {
		for range 10 {
			id := n
			wg.Add(1)
			p.Send(ctx, &producer.Record{Topic: topic, Partition: int32(id % 3), PinPartition: true, Value: []byte(strconv.Itoa(id))},
				func(md producer.RecordMetadata, err error) {
					mu.Lock()
					if _, dup := answers[id]; dup {
						t.Errorf("record %d answered twice", id)
					}
					answers[id] = answer{md, err}
					mu.Unlock()
					wg.Done()
				})
			n++
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for id, a := range answers {
		if a.err != nil {
			t.Fatalf("record %d failed: %v", id, a.err)
		}
	}
	got := kafkatest.ReadRecords(t, k.Addrs(), topic, n, kafkatest.ReadOptions{})
	if len(got) != n {
		t.Fatalf("read %d records, sent %d", len(got), n)
	}
	last := map[int32]int{}
	for _, r := range got {
		id, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatalf("value %q", r.Value)
		}
		a := answers[id]
		if a.md.Partition != r.Partition || a.md.Offset != r.Offset {
			t.Fatalf("record %d answered at %d/%d, read at %d/%d", id, a.md.Partition, a.md.Offset, r.Partition, r.Offset)
		}
		if prev, ok := last[r.Partition]; ok && id <= prev {
			t.Fatalf("partition %d: record %d after %d", r.Partition, id, prev)
		}
		last[r.Partition] = id
	}
	// One connection per broker for metadata and produce at the start,
	// then replacements every ~3 s: at least four generations.
	if d := dials.Load(); d < 4 {
		t.Fatalf("%d dials in %v of %v sessions: connections were not replaced", d, 4*reauth, reauth)
	}
	t.Logf("%d records, %d dials", n, dials.Load())

	for name, opts := range map[string][]producer.Opt{
		"token without the required scope": {producer.WithProperties(props(`unsecuredLoginStringClaim_sub="alice"`))},
		"mechanism not enabled": {producer.WithProperties(map[string]string{
			"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";`,
		})},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProducerAt(t, k.SASLAddrs(), append(opts, producer.WithMaxBlock(2*time.Second))...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: []byte("refused")})
			if !errors.Is(err, producer.ErrSASL) {
				t.Fatalf("got %v; want ErrSASL", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("refused after %v", took)
			}
			if name == "token without the required scope" && !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
				t.Fatalf("%v: not the broker's refusal", err)
			}
			t.Log(err)
		})
	}
}

// newProducerAt builds a producer bootstrapped at addrs, closed with the
// test.
func newProducerAt(t *testing.T, addrs []string, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	return kprodtest.NewProducer(t, addrs, opts...)
}
