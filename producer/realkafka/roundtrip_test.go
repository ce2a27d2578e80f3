package realkafka_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/interop"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// bigValue is the size of the largest value of each round trip: 1 MB, under
// the default max.request.size (1 MiB) with its batch overhead.
const bigValue = 1_000_000

// records makes the records of one round trip, idents prefixed by tag:
// null, empty and repeated keys; null and empty values; no headers, headers
// with empty and null values, a repeated header key; explicit timestamps
// (out of order, some in the past) and "now"; and one 1 MB value. Every
// byte is printable and free of tabs, newlines, commas and colons in
// headers, as the console consumer's format needs.
func records(tag string, n int) []*producer.Record {
	rng := rand.New(rand.NewPCG(uint64(len(tag)), 7))
	base := time.UnixMilli(1_600_000_000_000)
	var out []*producer.Record
	for i := range n {
		ident := fmt.Sprintf("%s/%d", tag, i)
		r := &producer.Record{}
		switch i % 5 {
		case 0: // null key
		case 1:
			r.Key = []byte{}
		default:
			r.Key = fmt.Appendf(nil, "key-%d", i%7)
		}
		switch i % 3 {
		case 1:
			r.Headers = []producer.Header{{Key: "id", Value: []byte(ident)}, {Key: "empty", Value: []byte{}}, {Key: "null"}}
		case 2:
			r.Headers = []producer.Header{{Key: "id", Value: []byte(ident)}, {Key: "dup", Value: []byte("a")}, {Key: "dup", Value: []byte("b=c")}}
		}
		switch {
		case i%6 == 4: // null value; identified by its id header
		case i%6 == 1:
			r.Value = []byte(ident + "|")
		default:
			r.Value = []byte(ident + "|" + printable(rng, rng.IntN(300)))
		}
		if i%4 != 0 {
			r.Timestamp = base.Add(time.Duration((i*7919)%1000) * time.Second)
		}
		out = append(out, r)
	}
	big := &producer.Record{Key: []byte("big"), Timestamp: base.Add(-time.Hour)}
	big.Value = []byte(tag + "/big|")
	big.Value = append(big.Value, printable(rng, bigValue-len(big.Value))...)
	return append(out, big)
}

// printable returns n bytes of text, compressible but not trivially so.
func printable(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-_=+/"
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		word := rng.IntN(12) + 1
		for j := 0; j < word && b.Len() < n; j++ {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		if b.Len() < n {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

type roundTrip struct {
	name  string
	acks  producer.Acks
	codec producer.Compression
	level int // batch.DefaultLevel for the codec's default
}

// TestRoundTrip writes the same kinds of records with every ack level and
// every codec at several levels, then reads each topic back with kgo and
// kcat and, all topics in one run, with Java's console consumer, comparing
// field by field with what was sent and what the producer answered.
func TestRoundTrip(t *testing.T) {
	k := cluster(t)
	cases := []roundTrip{
		{"acks=all/none", producer.AcksAll, producer.CompressionNone, batch.DefaultLevel},
		{"acks=all/gzip", producer.AcksAll, producer.CompressionGzip, batch.DefaultLevel},
		{"acks=all/gzip-1", producer.AcksAll, producer.CompressionGzip, batch.GzipMinLevel},
		{"acks=all/gzip-9", producer.AcksAll, producer.CompressionGzip, batch.GzipMaxLevel},
		{"acks=all/snappy", producer.AcksAll, producer.CompressionSnappy, batch.DefaultLevel},
		{"acks=all/lz4", producer.AcksAll, producer.CompressionLZ4, batch.DefaultLevel},
		{"acks=all/lz4-1", producer.AcksAll, producer.CompressionLZ4, batch.LZ4MinLevel},
		{"acks=all/lz4-17", producer.AcksAll, producer.CompressionLZ4, batch.LZ4MaxLevel},
		{"acks=all/zstd", producer.AcksAll, producer.CompressionZstd, batch.DefaultLevel},
		{"acks=all/zstd--5", producer.AcksAll, producer.CompressionZstd, -5},
		{"acks=all/zstd-1", producer.AcksAll, producer.CompressionZstd, 1},
		{"acks=all/zstd-22", producer.AcksAll, producer.CompressionZstd, batch.ZstdMaxLevel},
		{"acks=1/none", producer.AcksLeader, producer.CompressionNone, batch.DefaultLevel},
		{"acks=1/lz4", producer.AcksLeader, producer.CompressionLZ4, batch.DefaultLevel},
		{"acks=0/none", producer.AcksNone, producer.CompressionNone, batch.DefaultLevel},
		{"acks=0/zstd", producer.AcksNone, producer.CompressionZstd, batch.DefaultLevel},
	}
	const partitions, n = 3, 60
	// kcat (librdkafka) reads each topic too where it is installed; CI
	// installs it, and there its absence fails the test.
	kcat, err := interop.Find()
	if err != nil {
		if kafkatest.InCI() {
			t.Fatal(err)
		}
		t.Logf("no kcat read-back: %v", err)
	}
	prefix := kafkatest.TopicName(t) + "."
	books := make([]*book, len(cases))
	total := 0
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := fmt.Sprintf("%s%d", prefix, i)
			k.CreateTopic(t, topic, partitions, 1, nil)
			opts := []producer.Opt{producer.WithAcks(c.acks), producer.WithCompression(c.codec), producer.WithLinger(5 * time.Millisecond)}
			if c.level != batch.DefaultLevel {
				opts = append(opts, producer.WithCompressionLevel(c.codec, c.level))
			}
			p := newProducer(t, k, opts...)
			b := newBook(topic, c.acks)
			books[i] = b
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for j, r := range records(fmt.Sprintf("c%d", i), n) {
				r.Topic = topic
				ident := fmt.Sprintf("c%d/%d", i, j)
				if j == n {
					ident = fmt.Sprintf("c%d/big", i)
				}
				b.send(ctx, p, ident, r)
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			b.wait(t, time.Minute)
			got := fromKgo(kafkatest.ReadRecords(t, k.Addrs(), topic, n+1, kafkatest.ReadOptions{}))
			for _, r := range got {
				if r.codec != int8(c.codec) {
					t.Fatalf("record at %d/%d stored with codec %d, sent with %s", r.partition, r.offset, r.codec, c.codec)
				}
			}
			b.check(t, "kgo", got, kafkatest.EndOffsets(t, k.Addrs(), topic, partitions))
			if kcat != "" {
				msgs, err := interop.Consume(ctx, kcat, k.Addrs()[0], topic)
				if err != nil {
					t.Fatal(err)
				}
				b.check(t, "kcat", fromKcat(msgs), nil)
			}
		})
		total += n + 1
	}
	if t.Failed() {
		return
	}
	// Java's console consumer, once for every topic.
	java := fromConsole(kafkatest.ConsoleConsume(t, k.Addrs(), "", total, kafkatest.ConsoleOptions{
		Include: strings.ReplaceAll(prefix, ".", `\.`) + ".*",
	}))
	for _, b := range books {
		var mine []read
		for _, r := range java {
			if b.owns(r) {
				mine = append(mine, r)
			}
		}
		b.check(t, "java", mine, nil)
	}
}
