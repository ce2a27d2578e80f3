package realkafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// varintLen is the size of n as a zigzag varint, as record fields are
// written.
func varintLen(n int64) int {
	u := uint64((n << 1) ^ (n >> 63))
	l := 1
	for u >= 0x80 {
		u >>= 7
		l++
	}
	return l
}

// batchSize is the exact size of an uncompressed v2 batch holding one record
// with a null key, no headers and a value of n bytes: the 61-byte batch
// header, the record's length, and its body (attributes, timestamp and
// offset deltas of 0, key length -1, value length and value, header count).
func batchSize(n int) int {
	body := 1 + 1 + 1 + 1 + varintLen(int64(n)) + n + 1
	return batch.Overhead + varintLen(int64(body)) + body
}

// valueFor returns the length of value whose one-record batch is exactly
// size bytes, per measure.
func valueFor(t *testing.T, size int, measure func(n int) int) int {
	t.Helper()
	for n := size - 100; n <= size; n++ {
		if measure(n) == size {
			return n
		}
	}
	t.Fatalf("no value length gives a %d-byte batch", size)
	return 0
}

func valueOf(ident string, n int) []byte {
	v := []byte(ident + "|")
	return append(v, strings.Repeat("x", n-len(v))...)
}

// TestMaxRequestSize: a record whose size estimate is exactly
// max.request.size is sent; one byte more fails at Send with
// ErrRecordTooLarge without reaching the broker, and the partition goes on.
func TestMaxRequestSize(t *testing.T) {
	k := cluster(t)
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, 1, 1, nil)
	const limit = 1 << 20 // the default max.request.size
	p := newProducer(t, k)
	n := valueFor(t, limit, func(n int) int { return batch.EstimateSize(nil, make([]byte, n), nil) })
	if got := batchSize(n); got > 1048588 {
		t.Fatalf("the at-limit batch (%d bytes) is over the broker's message.max.bytes", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	b := newBook(topic, producer.AcksAll)
	b.send(ctx, p, "at", &producer.Record{Topic: topic, Value: valueOf("at", n)})
	_, err := p.Send(ctx, &producer.Record{Topic: topic, Value: valueOf("over", n+1)}, nil).Get(ctx)
	if !errors.Is(err, producer.ErrRecordTooLarge) {
		t.Fatalf("a record one byte over max.request.size: %v, want ErrRecordTooLarge", err)
	}
	t.Logf("one byte over: %v", err)
	b.send(ctx, p, "after", &producer.Record{Topic: topic, Value: []byte("after|")})
	b.wait(t, time.Minute)
	b.check(t, "kgo", fromKgo(kafkatest.ReadRecords(t, k.Addrs(), topic, 2, kafkatest.ReadOptions{})), kafkatest.EndOffsets(t, k.Addrs(), topic, 1))
}

// TestMessageMaxBytes: the broker takes a batch of exactly its limit —
// message.max.bytes (1048588 by default) or the topic's max.message.bytes
// — and refuses one byte more with MESSAGE_TOO_LARGE, which the producer
// answers as ErrRecordTooLarge; the idempotent producer's next record to the
// partition is written (the refused batch left no gap in its sequence).
// With compression the limit applies to the compressed batch.
func TestMessageMaxBytes(t *testing.T) {
	k := cluster(t)
	for _, tc := range []struct {
		name   string
		limit  int
		config map[string]string
	}{
		{"broker-default", 1048588, nil},
		{"topic-10000", 10000, map[string]string{"max.message.bytes": "10000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkatest.TopicName(t)
			k.CreateTopic(t, topic, 1, 1, tc.config)
			// max.request.size well above the broker's limit, so the broker decides.
			p := newProducer(t, k, producer.WithMaxRequestSize(4<<20), producer.WithLinger(0))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n := valueFor(t, tc.limit, batchSize)

			b := newBook(topic, producer.AcksAll)
			b.send(ctx, p, "at", &producer.Record{Topic: topic, Value: valueOf("at", n)})
			b.wait(t, time.Minute)
			_, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: valueOf("over", n+1)})
			if !errors.Is(err, producer.ErrRecordTooLarge) || !errors.Is(err, kerr.MessageTooLarge) {
				t.Fatalf("a batch one byte over %d: %v, want ErrRecordTooLarge wrapping MESSAGE_TOO_LARGE", tc.limit, err)
			}
			t.Logf("one byte over: %v", err)
			b.send(ctx, p, "after", &producer.Record{Topic: topic, Value: []byte("after|")})
			b.wait(t, time.Minute)
			b.check(t, "kgo", fromKgo(kafkatest.ReadRecords(t, k.Addrs(), topic, 2, kafkatest.ReadOptions{})), kafkatest.EndOffsets(t, k.Addrs(), topic, 1))
		})
	}
	t.Run("compressed", func(t *testing.T) {
		topic := kafkatest.TopicName(t)
		k.CreateTopic(t, topic, 1, 1, map[string]string{"max.message.bytes": "10000"})
		p := newProducer(t, k, producer.WithCompression(producer.CompressionGzip))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b := newBook(topic, producer.AcksAll)
		b.send(ctx, p, "big", &producer.Record{Topic: topic, Value: valueOf("big", 50_000)})
		b.wait(t, time.Minute)
		b.check(t, "kgo", fromKgo(kafkatest.ReadRecords(t, k.Addrs(), topic, 1, kafkatest.ReadOptions{})), nil)
	})
}
