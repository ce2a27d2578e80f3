package realkafka_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/interop"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// book keeps every record a test sent and every answer the producer gave,
// to hold the producer to its contract against what independent readers
// find in the log: each record answered once, at the partition and offset
// where it really is, each partition in send order, nothing written twice.
type book struct {
	topic string
	acks  producer.Acks // with AcksNone answers carry no offsets

	mu    sync.Mutex
	sent  []*entry
	byID  map[string]*entry
	wg    sync.WaitGroup
	start time.Time
}

// entry is one sent record: ident says which, and is found in the record's
// value, or (for a null value) in its "id" header.
type entry struct {
	ident   string
	seq     int // send order
	rec     producer.Record
	answers int
	md      producer.RecordMetadata
	err     error
}

func newBook(topic string, acks producer.Acks) *book {
	return &book{topic: topic, acks: acks, byID: map[string]*entry{}, start: time.Now()}
}

// send sends rec (whose ident the caller chose) and books its answer.
func (b *book) send(ctx context.Context, p *producer.Producer, ident string, rec *producer.Record) {
	b.mu.Lock()
	e := &entry{ident: ident, seq: len(b.sent), rec: *rec}
	b.sent = append(b.sent, e)
	b.byID[ident] = e
	b.mu.Unlock()
	b.wg.Add(1)
	p.Send(ctx, rec, func(md producer.RecordMetadata, err error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		e.answers++
		e.md, e.err = md, err
		if e.answers == 1 {
			b.wg.Done()
		}
	})
}

// wait waits for every record's answer and checks each came once, without
// error.
func (b *book) wait(t *testing.T, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not every record answered within %v", b.topic, d)
	}
	time.Sleep(50 * time.Millisecond) // a second answer would come now
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.sent {
		if e.answers != 1 {
			t.Errorf("%s: record %s answered %d times", b.topic, e.ident, e.answers)
		}
		if e.err != nil {
			t.Errorf("%s: record %s failed: %v", b.topic, e.ident, e.err)
		}
		if e.md.Topic != b.topic {
			t.Errorf("%s: record %s answered for topic %q", b.topic, e.ident, e.md.Topic)
		}
		if b.acks == producer.AcksNone {
			if e.md.Offset != -1 {
				t.Errorf("%s: acks=0 record %s answered with offset %d, want -1", b.topic, e.ident, e.md.Offset)
			}
		} else if e.md.Offset < 0 {
			t.Errorf("%s: record %s answered with offset %d", b.topic, e.ident, e.md.Offset)
		}
	}
}

// read is a record as a reader found it, reduced to what both readers give.
type read struct {
	partition int32
	offset    int64
	tsType    string
	ts        int64
	headers   []producer.Header
	key       []byte
	value     []byte
	codec     int8 // -1 when the reader does not say
}

func fromKgo(recs []*kgo.Record) []read {
	var out []read
	for _, r := range recs {
		rd := read{partition: r.Partition, offset: r.Offset, tsType: "CreateTime", ts: r.Timestamp.UnixMilli(),
			key: r.Key, value: r.Value, codec: int8(r.Attrs.CompressionType())}
		if r.Attrs.TimestampType() == 1 {
			rd.tsType = "LogAppendTime"
		}
		for _, h := range r.Headers {
			rd.headers = append(rd.headers, producer.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, rd)
	}
	return out
}

func fromKcat(msgs []interop.Message) []read {
	var out []read
	for _, m := range msgs {
		rd := read{partition: m.Partition, offset: m.Offset, tsType: m.TimestampType, ts: m.Timestamp,
			key: m.Key, value: m.Value, codec: -1}
		switch m.TimestampType {
		case "create":
			rd.tsType = "CreateTime"
		case "logappend":
			rd.tsType = "LogAppendTime"
		}
		for _, h := range m.Headers {
			rd.headers = append(rd.headers, producer.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, rd)
	}
	return out
}

func fromConsole(recs []kafkatest.ConsoleRecord) []read {
	var out []read
	for _, r := range recs {
		rd := read{partition: r.Partition, offset: r.Offset, tsType: r.TimestampType, ts: r.Timestamp,
			key: r.Key, value: r.Value, codec: -1}
		for _, h := range r.Headers {
			rd.headers = append(rd.headers, producer.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, rd)
	}
	return out
}

// identOf says which sent record r is: the value up to the first '|', or
// the "id" header.
func identOf(r read) string {
	if r.value != nil {
		id, _, _ := strings.Cut(string(r.value), "|")
		return id
	}
	for _, h := range r.headers {
		if h.Key == "id" {
			return string(h.Value)
		}
	}
	return ""
}

// owns reports whether r is one of the book's records.
func (b *book) owns(r read) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.byID[identOf(r)]
	return ok
}

// check compares what reader found with what was sent and answered, field
// by field: every record once, at its answered partition and offset, with
// its key, value, headers and timestamp; each partition in send order; and
// end offsets that leave no room for a record nobody read.
func (b *book) check(t *testing.T, reader string, got []read, ends []int64) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]read{}
	for _, r := range got {
		id := identOf(r)
		e, ok := b.byID[id]
		if !ok {
			t.Fatalf("%s %s: record at %d/%d is none of ours (value %.40q)", reader, b.topic, r.partition, r.offset, r.value)
		}
		if prev, dup := seen[id]; dup {
			t.Fatalf("%s %s: record %s is in the log twice, at %d/%d and %d/%d", reader, b.topic, id, prev.partition, prev.offset, r.partition, r.offset)
		}
		seen[id] = r
		b.compare(t, reader, e, r)
	}
	if len(seen) != len(b.sent) {
		t.Fatalf("%s %s: found %d of %d records", reader, b.topic, len(seen), len(b.sent))
	}
	// Send order per partition: offsets rise with send order.
	perPartition := map[int32][]*entry{}
	for _, e := range b.sent {
		p := seen[e.ident].partition
		perPartition[p] = append(perPartition[p], e)
	}
	for p, es := range perPartition {
		for i := 1; i < len(es); i++ {
			if seen[es[i].ident].offset <= seen[es[i-1].ident].offset {
				t.Errorf("%s %s: partition %d: %s (sent after %s) at offset %d, before %d", reader, b.topic, p,
					es[i].ident, es[i-1].ident, seen[es[i].ident].offset, seen[es[i-1].ident].offset)
			}
		}
		if ends != nil && ends[p] != int64(len(es)) {
			t.Errorf("%s: partition %d ends at offset %d, but %d records were written to it", b.topic, p, ends[p], len(es))
		}
	}
}

func (b *book) compare(t *testing.T, reader string, e *entry, r read) {
	t.Helper()
	where := fmt.Sprintf("%s %s record %s", reader, b.topic, e.ident)
	if e.md.Partition != r.partition {
		t.Errorf("%s: answered partition %d, is in %d", where, e.md.Partition, r.partition)
	}
	if b.acks != producer.AcksNone && e.md.Offset != r.offset {
		t.Errorf("%s: answered offset %d, is at %d", where, e.md.Offset, r.offset)
	}
	if !sameBytes(e.rec.Key, r.key) {
		t.Errorf("%s: key %.60q, sent %.60q", where, r.key, e.rec.Key)
	}
	if !sameBytes(e.rec.Value, r.value) {
		t.Errorf("%s: value (%d bytes) %.60q, sent (%d bytes) %.60q", where, len(r.value), r.value, len(e.rec.Value), e.rec.Value)
	}
	if r.tsType != "CreateTime" {
		t.Errorf("%s: timestamp type %s", where, r.tsType)
	}
	if e.rec.Timestamp.IsZero() {
		// "now": between the test's start and the answer. The producer
		// derives create times from the monotonic clock plus a wall-clock
		// offset kept in whole milliseconds, so a stamp may read up to
		// 1 ms before the wall clock of the moment; allow 2.
		if r.ts < b.start.UnixMilli()-2 || r.ts > time.Now().UnixMilli() {
			t.Errorf("%s: timestamp %d, not the send time (test started %d)", where, r.ts, b.start.UnixMilli())
		}
	} else if r.ts != e.rec.Timestamp.UnixMilli() {
		t.Errorf("%s: timestamp %d, sent %d", where, r.ts, e.rec.Timestamp.UnixMilli())
	}
	if b.acks != producer.AcksNone && e.md.Timestamp.UnixMilli() != r.ts {
		t.Errorf("%s: answered timestamp %d, log has %d", where, e.md.Timestamp.UnixMilli(), r.ts)
	}
	if !slices.EqualFunc(e.rec.Headers, r.headers, func(a, b producer.Header) bool {
		return a.Key == b.Key && sameBytes(a.Value, b.Value)
	}) {
		t.Errorf("%s: headers %v, sent %v", where, r.headers, e.rec.Headers)
	}
}

// sameBytes is bytes.Equal that also tells nil (null) from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
