package interop

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// kcatOrSkip returns the kcat binary. Without one the test is skipped, except
// under CI, where kcat is part of the setup and its absence is a failure.
func kcatOrSkip(t *testing.T) string {
	t.Helper()
	bin, err := Find()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %v: install it (apt-get install -y kcat)", err)
	}
	t.Skipf("%v: install it (apt-get install -y kcat) to run the kcat interop tests", err)
	return ""
}

// sent is one record handed to the producer and the answer it got.
type sent struct {
	rec *producer.Record
	md  producer.RecordMetadata
	err error
	n   int // answers received
}

// sendAll sends recs asynchronously (a few with SendSync), waits for every
// answer and fails the test unless each record was answered exactly once,
// without error.
func sendAll(t *testing.T, p *producer.Producer, recs []*producer.Record) []*sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([]*sent, len(recs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, r := range recs {
		s := &sent{rec: r}
		out[i] = s
		if i%7 == 3 {
			s.md, s.err = p.SendSync(ctx, r)
			s.n = 1
			continue
		}
		wg.Add(1)
		p.Send(ctx, r, func(md producer.RecordMetadata, err error) {
			mu.Lock()
			defer mu.Unlock()
			s.md, s.err = md, err
			if s.n++; s.n == 1 {
				wg.Done()
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, s := range out {
		if s.n != 1 || s.err != nil {
			t.Fatalf("record %d: %d answers, error %v", i, s.n, s.err)
		}
	}
	return out
}

// fieldRecords is a set of records covering every field shape: null and
// empty keys and values, headers with null, empty and binary values,
// repeated header keys, explicit timestamps, pinned partitions, a value of
// 1 MB and bytes that are not UTF-8.
func fieldRecords(topic string) []*producer.Record {
	big := make([]byte, 1_000_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	ts := time.UnixMilli(1_600_000_000_123)
	return []*producer.Record{
		{Topic: topic, Key: []byte("k"), Value: []byte("v"), Timestamp: ts},
		{Topic: topic, Key: nil, Value: nil, Timestamp: ts.Add(time.Millisecond)},
		{Topic: topic, Key: []byte{}, Value: []byte{}, Timestamp: ts.Add(-time.Hour)},
		{Topic: topic, Key: nil, Value: []byte{}},
		{Topic: topic, Key: []byte{}, Value: nil},
		{Topic: topic, Key: all, Value: all, Timestamp: time.UnixMilli(0)},
		{Topic: topic, Key: []byte("quotes \"\\ and\nnewlines\t"), Value: []byte("é😀\u2028"), Timestamp: time.UnixMilli(1)},
		{Topic: topic, Key: []byte("headers"), Value: []byte("h"), Headers: []producer.Header{
			{Key: "a", Value: []byte("1")}, {Key: "null", Value: nil}, {Key: "empty", Value: []byte{}},
			{Key: "a", Value: []byte("2")}, {Key: "bin", Value: all}, {Key: "ünï\x01", Value: []byte("x")},
		}},
		{Topic: topic, Key: []byte("big"), Value: big, Timestamp: ts.Add(time.Minute)},
		{Topic: topic, Value: []byte("pinned"), Partition: 2, PinPartition: true, Timestamp: ts},
		{Topic: topic, Key: nil, Value: bytes.Repeat([]byte("compressible "), 5000), Partition: 0, PinPartition: true},
	}
}

// bulkRecords is n small keyed records, enough to fill multi-record batches.
func bulkRecords(topic string, n int) []*producer.Record {
	out := make([]*producer.Record, n)
	for i := range out {
		out[i] = &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%17),
			Value:   fmt.Appendf(nil, "value-%d-%s", i, bytes.Repeat([]byte{'x'}, i%50)),
			Headers: []producer.Header{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}}}
		if i%5 == 0 {
			out[i].Timestamp = time.UnixMilli(1_650_000_000_000 + int64(i))
		}
	}
	return out
}

// expected is what kcat must print for s.
func expected(s *sent) Message {
	r := s.rec
	m := Message{Topic: r.Topic, Partition: s.md.Partition, Offset: s.md.Offset, TimestampType: "create",
		Timestamp: s.md.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
	if !r.Timestamp.IsZero() {
		m.Timestamp = r.Timestamp.UnixMilli()
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return m
}

// compare checks kcat's view against the producer's answers: every record
// exactly once, at the partition and offset it was acknowledged at, with
// the same fields, and nothing else in the topic.
func compare(t *testing.T, got []Message, want []*sent) {
	t.Helper()
	type pos struct {
		p int32
		o int64
	}
	byPos := make(map[pos]Message, len(got))
	last := map[int32]int64{}
	for _, m := range got {
		k := pos{m.Partition, m.Offset}
		if _, dup := byPos[k]; dup {
			t.Fatalf("kcat printed %d/%d twice", m.Partition, m.Offset)
		}
		if prev, ok := last[m.Partition]; ok && m.Offset <= prev {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, prev)
		}
		last[m.Partition] = m.Offset
		byPos[k] = m
	}
	if len(got) != len(want) {
		t.Fatalf("kcat read %d records, %d were sent", len(got), len(want))
	}
	for i, s := range want {
		m, ok := byPos[pos{s.md.Partition, s.md.Offset}]
		if !ok {
			t.Fatalf("record %d acknowledged at %d/%d, which kcat did not print", i, s.md.Partition, s.md.Offset)
		}
		if err := sameMessage(m, expected(s)); err != nil {
			t.Fatalf("record %d at %d/%d: %v", i, s.md.Partition, s.md.Offset, err)
		}
	}
}

// TestKcatReadsEveryCodec writes records of every shape with each codec and
// reads them back with kcat, bootstrapping from one broker of three (kcat
// then follows the addresses the cluster advertises).
func TestKcatReadsEveryCodec(t *testing.T) {
	bin := kcatOrSkip(t)
	for _, codec := range []producer.Compression{producer.CompressionNone, producer.CompressionGzip, producer.CompressionSnappy, producer.CompressionLZ4, producer.CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			const topic = "interop"
			c := kafkatest.NewFake(t, 3, kfake.SeedTopics(3, topic)).Kfake()
			p, err := producer.New(producer.WithBrokers(c.ListenAddrs()...), producer.WithCompression(codec),
				producer.WithLinger(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())

			recs := append(fieldRecords(topic), bulkRecords(topic, 3000)...)
			answers := sendAll(t, p, recs)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			got, err := Consume(ctx, bin, c.ListenAddrs()[0], topic)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, answers)
			if m := p.Metrics(); codec != producer.CompressionNone && m.CompressionRatio >= 1 {
				t.Errorf("compression ratio %.2f: batches were not compressed", m.CompressionRatio)
			}
		})
	}
}
