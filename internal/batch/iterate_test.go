package batch_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kprod/kprod/internal/batch"
)

// collect copies every record EachRecord yields.
func collect(t *testing.T, b *batch.Builder) []rec {
	t.Helper()
	var got []rec
	err := b.EachRecord(func(r batch.Record) bool {
		c := rec{ts: r.Timestamp, key: cloneNullable(r.Key), value: cloneNullable(r.Value)}
		for _, h := range r.Headers {
			c.headers = append(c.headers, batch.Header{Key: h.Key, Value: cloneNullable(h.Value)})
		}
		got = append(got, c)
		return true
	})
	if err != nil {
		t.Fatalf("EachRecord: %v", err)
	}
	return got
}

func cloneNullable(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func sameRecords(got, want []rec) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ts != w.ts {
			return fmt.Errorf("record %d: timestamp %d, want %d", i, g.ts, w.ts)
		}
		if err := sameBytes("key", g.key, w.key); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := sameBytes("value", g.value, w.value); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if len(g.headers) != len(w.headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(g.headers), len(w.headers))
		}
		for j := range w.headers {
			if g.headers[j].Key != w.headers[j].Key {
				return fmt.Errorf("record %d header %d: key %q, want %q", i, j, g.headers[j].Key, w.headers[j].Key)
			}
			if err := sameBytes("header value", g.headers[j].Value, w.headers[j].Value); err != nil {
				return fmt.Errorf("record %d header %d: %w", i, j, err)
			}
		}
	}
	return nil
}

func TestEachRecordBeforeAndAfterFinish(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(21, 22)), 700, 1_700_000_000_000)
	for _, c := range allCodecs {
		t.Run(c.codec.String(), func(t *testing.T) {
			var b batch.Builder
			b.Reset(nil)
			for _, r := range recs {
				b.Append(r.ts, r.key, r.value, r.headers)
			}
			if err := sameRecords(collect(t, &b), recs); err != nil {
				t.Fatalf("before Finish: %v", err)
			}
			comp, _ := batch.NewCompressor(c.codec, batch.DefaultLevel)
			if err := b.Finish(comp); err != nil {
				t.Fatal(err)
			}
			b.Stamp(1, 1, 1, false)
			if err := sameRecords(collect(t, &b), recs); err != nil {
				t.Fatalf("after Finish: %v", err)
			}
		})
	}
}

func TestEachRecordStopsEarly(t *testing.T) {
	var b batch.Builder
	for i := range 10 {
		b.Append(int64(i), nil, []byte{byte(i)}, nil)
	}
	seen := 0
	if err := b.EachRecord(func(batch.Record) bool { seen++; return seen < 3 }); err != nil {
		t.Fatal(err)
	}
	if seen != 3 {
		t.Fatalf("fn called %d times after returning false at 3", seen)
	}
}

// TestSplitIntoSmallerBatches is the producer's use of EachRecord: a batch
// the broker refused as too large is re-encoded as several smaller ones.
func TestSplitIntoSmallerBatches(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(23, 24)), 300, 0)
	big := build(t, recs, batch.Gzip, batch.DefaultLevel, stamp{})
	var parts []*batch.Builder
	cur := new(batch.Builder)
	err := big.EachRecord(func(r batch.Record) bool {
		if cur.NumRecords() > 0 && cur.Len()+cur.AppendSize(r.Timestamp, r.Key, r.Value, r.Headers) > 4096 {
			parts = append(parts, cur)
			cur = new(batch.Builder)
		}
		cur.Append(r.Timestamp, r.Key, r.Value, r.Headers)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	parts = append(parts, cur)
	var again []rec
	start := 0
	for _, p := range parts {
		if p.Len() > 4096 && p.NumRecords() > 1 {
			t.Fatalf("part of %d bytes with %d records exceeds the split size", p.Len(), p.NumRecords())
		}
		if err := p.Finish(nil); err != nil {
			t.Fatal(err)
		}
		if want := kmsgBatch(recs[start:start+p.NumRecords()], stamp{}); !bytes.Equal(p.Bytes(), want) {
			t.Fatalf("split part at record %d differs from kmsg's encoding", start)
		}
		start += p.NumRecords()
		again = append(again, collect(t, p)...)
	}
	if len(parts) < 2 {
		t.Fatalf("split into %d parts", len(parts))
	}
	if err := sameRecords(again, recs); err != nil {
		t.Fatal(err)
	}
}
