package batch_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kprod/kprod/internal/batch"
)

// kmsgCases are uncompressed batches compared byte for byte with kmsg.
func kmsgCases() []struct {
	name string
	recs []rec
} {
	rng := rand.New(rand.NewPCG(1, 2))
	many := make([]rec, 5000)
	for i := range many {
		many[i] = rec{ts: 1_700_000_000_000 + int64(i), key: []byte{byte(i), byte(i >> 8)}, value: bytes.Repeat([]byte{'v'}, i%300)}
	}
	return []struct {
		name string
		recs []rec
	}{
		{"one record", []rec{{ts: 1_700_000_000_000, key: []byte("k"), value: []byte("v")}}},
		{"null key and value", []rec{{ts: 5}}},
		{"empty key and value", []rec{{ts: 5, key: []byte{}, value: []byte{}}}},
		{"null and empty mixed", []rec{{ts: 5, key: nil, value: []byte{}}, {ts: 6, key: []byte{}, value: nil}}},
		{"headers", []rec{{ts: 9, value: []byte("x"), headers: []batch.Header{
			{Key: "trace", Value: []byte("abc")},
			{Key: "", Value: nil},
			{Key: "empty", Value: []byte{}},
		}}}},
		{"negative timestamp deltas", []rec{{ts: 1000, value: []byte("a")}, {ts: 10, value: []byte("b")}, {ts: -5_000_000, value: []byte("c")}, {ts: 2000}}},
		{"negative base timestamp", []rec{{ts: -1}, {ts: math.MinInt32}}},
		{"large values", []rec{{ts: 1, key: bytes.Repeat([]byte("k"), 300), value: bytes.Repeat([]byte("v"), 100_000)}}},
		{"many records", many},
		{"random", randomRecords(rng, 300, 1_700_000_000_000)},
	}
}

func TestBuilderMatchesKmsg(t *testing.T) {
	stamps := []struct {
		name string
		st   stamp
	}{
		{"unstamped", stamp{}},
		{"idempotent", stamp{set: true, pid: 123456789, epoch: 7, seq: 42}},
		{"transactional", stamp{set: true, pid: 1, epoch: 0, seq: 0, txn: true}},
		{"extremes", stamp{set: true, pid: math.MaxInt64, epoch: math.MaxInt16, seq: math.MaxInt32, txn: true}},
	}
	for _, tc := range kmsgCases() {
		for _, s := range stamps {
			t.Run(tc.name+"/"+s.name, func(t *testing.T) {
				b := build(t, tc.recs, batch.None, batch.DefaultLevel, s.st)
				want := kmsgBatch(tc.recs, s.st)
				if !bytes.Equal(b.Bytes(), want) {
					t.Fatalf("batch differs from kmsg's encoding\n got %x\nwant %x", head(b.Bytes()), head(want))
				}
				d, err := decode(b.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if err := d.check(tc.recs, batch.None, s.st); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func head(p []byte) []byte { return p[:min(len(p), 128)] }

func TestStampTwiceEqualsStampOnce(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(3, 4)), 50, 1_000)
	for _, c := range allCodecs {
		t.Run(c.codec.String(), func(t *testing.T) {
			second := stamp{set: true, pid: 99, epoch: 3, seq: 1000, txn: false}
			twice := build(t, recs, c.codec, batch.DefaultLevel, stamp{set: true, pid: 5, epoch: 1, seq: 7, txn: true})
			twice.Stamp(second.pid, second.epoch, second.seq, second.txn)
			once := build(t, recs, c.codec, batch.DefaultLevel, second)
			if !bytes.Equal(twice.Bytes(), once.Bytes()) {
				t.Fatal("stamping twice differs from stamping once with the second values")
			}
			d, err := decode(twice.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := d.check(recs, c.codec, second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStampBeforeFinish(t *testing.T) {
	recs := []rec{{ts: 10, value: []byte("a")}, {ts: 11, value: []byte("b")}}
	st := stamp{set: true, pid: 77, epoch: 2, seq: 9, txn: true}
	var b batch.Builder
	b.Reset(nil)
	b.Stamp(st.pid, st.epoch, st.seq, st.txn)
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	if err := b.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if want := kmsgBatch(recs, st); !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("stamp before close:\n got %x\nwant %x", b.Bytes(), want)
	}
}

func TestAppendSizeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := randomRecords(rng, 500, 1_700_000_000_000)
	recs = append(recs, rec{ts: math.MaxInt64}, rec{ts: math.MinInt64 + 1}, rec{ts: 0, value: make([]byte, 1<<20)})
	var b batch.Builder
	b.Reset(nil)
	if b.Len() != batch.Overhead {
		t.Fatalf("empty Len %d, want %d", b.Len(), batch.Overhead)
	}
	for i, r := range recs {
		before := b.Len()
		size := b.AppendSize(r.ts, r.key, r.value, r.headers)
		b.Append(r.ts, r.key, r.value, r.headers)
		if got := b.Len() - before; got != size {
			t.Fatalf("record %d: AppendSize %d, Append added %d", i, size, got)
		}
		if b.NumRecords() != i+1 {
			t.Fatalf("NumRecords %d, want %d", b.NumRecords(), i+1)
		}
	}
	if b.FirstTimestamp() != recs[0].ts {
		t.Fatalf("FirstTimestamp %d, want %d", b.FirstTimestamp(), recs[0].ts)
	}
	if b.MaxTimestamp() != math.MaxInt64 {
		t.Fatalf("MaxTimestamp %d, want MaxInt64", b.MaxTimestamp())
	}
}

func TestEstimateSizeIsUpperBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	recs := randomRecords(rng, 300, 0)
	recs = append(recs,
		rec{},
		rec{value: make([]byte, 63)}, rec{value: make([]byte, 64)}, // varint width edges
		rec{value: make([]byte, 8191)}, rec{value: make([]byte, 8192)},
		rec{key: make([]byte, 1<<20), value: make([]byte, 3<<20)},
	)
	for i, r := range recs {
		est := batch.EstimateSize(r.key, r.value, r.headers)
		// The worst real case: the record at the widest deltas a batch can hold.
		for _, tc := range []struct{ first, ts int64 }{{0, 0}, {math.MaxInt64, -1}, {0, math.MinInt64}} {
			var b batch.Builder
			b.Reset(nil)
			b.Append(tc.first, nil, nil, nil)
			lone := batch.Overhead + b.AppendSize(tc.ts, r.key, r.value, r.headers)
			if est < lone {
				t.Fatalf("record %d: EstimateSize %d < real size %d", i, est, lone)
			}
		}
		b := build(t, []rec{r}, batch.None, batch.DefaultLevel, stamp{})
		if est < len(b.Bytes()) {
			t.Fatalf("record %d: EstimateSize %d < batch size %d", i, est, len(b.Bytes()))
		}
		if est > len(b.Bytes())+16 {
			t.Fatalf("record %d: EstimateSize %d is far above batch size %d", i, est, len(b.Bytes()))
		}
		if bound := len(r.key) + len(r.value) + batch.MaxHeaderlessOverhead; len(r.headers) == 0 && est > bound {
			t.Fatalf("record %d: EstimateSize %d above the headerless bound %d", i, est, bound)
		}
	}
}

func TestBuilderLifecycle(t *testing.T) {
	var b batch.Builder // the zero value is an empty open batch
	if b.Finished() || b.Bytes() != nil || b.NumRecords() != 0 {
		t.Fatal("zero Builder is not an empty open batch")
	}
	if err := b.Finish(nil); !errors.Is(err, batch.ErrEmpty) {
		t.Fatalf("Finish of empty batch: %v, want ErrEmpty", err)
	}
	if err := b.EachRecord(func(batch.Record) bool { t.Fatal("record in empty batch"); return true }); err != nil {
		t.Fatal(err)
	}
	b.Append(1, []byte("k"), []byte("v"), nil)
	if err := b.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if !b.Finished() {
		t.Fatal("not Finished after Finish")
	}
	if err := b.Finish(nil); !errors.Is(err, batch.ErrFinished) {
		t.Fatalf("second Close: %v, want ErrFinished", err)
	}
	closed := bytes.Clone(b.Bytes())
	b.Append(2, nil, []byte("late"), nil)
	if !bytes.Equal(b.Bytes(), closed) || b.NumRecords() != 1 {
		t.Fatal("Append changed a finished batch")
	}
	if want := kmsgBatch([]rec{{ts: 1, key: []byte("k"), value: []byte("v")}}, stamp{}); !bytes.Equal(closed, want) {
		t.Fatalf("zero-value Builder batch differs from kmsg:\n got %x\nwant %x", closed, want)
	}

	// Reset with the old buffer reuses its memory and forgets everything.
	buf := b.Buffer()
	b.Reset(buf)
	if b.Finished() || b.NumRecords() != 0 || b.Len() != batch.Overhead || b.Codec() != batch.None {
		t.Fatal("Reset did not start an empty open batch")
	}
	b.Append(3, nil, []byte("again"), nil)
	if &b.Buffer()[0] != &buf[0] {
		t.Fatal("Reset did not reuse the buffer")
	}
	if err := b.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if want := kmsgBatch([]rec{{ts: 3, value: []byte("again")}}, stamp{}); !bytes.Equal(b.Bytes(), want) {
		t.Fatal("batch after Reset differs from kmsg (stale stamp or header?)")
	}
}

func TestLenAfterFinish(t *testing.T) {
	recs := make([]rec, 200)
	for i := range recs {
		recs[i] = rec{ts: int64(i), value: bytes.Repeat([]byte("compressible "), 10)}
	}
	var b batch.Builder
	b.Reset(nil)
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	raw := b.Len()
	comp, _ := batch.NewCompressor(batch.Zstd, batch.DefaultLevel)
	if err := b.Finish(comp); err != nil {
		t.Fatal(err)
	}
	if b.Len() != raw {
		t.Fatalf("Len after Finish %d, want the uncompressed %d", b.Len(), raw)
	}
	if len(b.Bytes()) >= raw/4 {
		t.Fatalf("zstd batch is %d bytes of %d: not compressed?", len(b.Bytes()), raw)
	}
	if b.Codec() != batch.Zstd {
		t.Fatalf("Codec %s, want zstd", b.Codec())
	}
}

func TestReuseDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts under -race")
	}
	key, value := []byte("0123456789abcdef"), bytes.Repeat([]byte("v"), 100)
	hdrs := []batch.Header{{Key: "h", Value: []byte("1")}}
	comp, _ := batch.NewCompressor(batch.LZ4, batch.DefaultLevel)
	var b batch.Builder
	buf := make([]byte, 0, 32<<10)
	fill := func() {
		b.Reset(buf)
		for i := 0; b.Len() < 16<<10; i++ {
			b.Append(int64(i), key, value, hdrs)
		}
		if err := b.Finish(comp); err != nil {
			t.Fatal(err)
		}
		b.Stamp(1, 2, 3, true)
		buf = b.Buffer()
	}
	fill() // warm the pools
	if n := testing.AllocsPerRun(50, fill); n > 0.1 {
		t.Fatalf("Reset+Append+Close(lz4)+Stamp with a recycled buffer: %.2f allocs, want 0", n)
	}
}
