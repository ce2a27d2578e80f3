package batch_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/batch"
)

// testCRCTable is an independent CRC-32C table: the tests never trust the
// package's own checksum code.
var testCRCTable = crc32.MakeTable(crc32.Castagnoli)

// rec is one record as the tests append it.
type rec struct {
	ts      int64
	key     []byte
	value   []byte
	headers []batch.Header
}

// producer fields as a test stamps them; zero value means "not stamped".
type stamp struct {
	set   bool
	pid   int64
	epoch int16
	seq   int32
	txn   bool
}

func (s stamp) fields() (int64, int16, int32, bool) {
	if !s.set {
		return -1, -1, -1, false
	}
	return s.pid, s.epoch, s.seq, s.txn
}

// build appends recs to a fresh Builder and closes it with codec at level.
func build(t testing.TB, recs []rec, codec batch.Codec, level int, st stamp) *batch.Builder {
	t.Helper()
	var b batch.Builder
	b.Reset(nil)
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	comp, err := batch.NewCompressor(codec, level)
	if err != nil {
		t.Fatalf("NewCompressor(%s, %d): %v", codec, level, err)
	}
	if err := b.Finish(comp); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if st.set {
		b.Stamp(st.pid, st.epoch, st.seq, st.txn)
	}
	return &b
}

// kmsgRecords encodes recs with kmsg's own record encoder.
func kmsgRecords(recs []rec) []byte {
	var out []byte
	for i, r := range recs {
		kr := kmsg.Record{
			TimestampDelta64: r.ts - recs[0].ts,
			OffsetDelta:      int32(i),
			Key:              r.key,
			Value:            r.value,
		}
		for _, h := range r.headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// The length is that of everything after it: encode once with a
		// zero (one byte) length to learn it.
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		out = kr.AppendTo(out)
	}
	return out
}

// kmsgBatch is the reference encoding of an uncompressed batch of recs,
// built with kmsg.RecordBatch.AppendTo.
func kmsgBatch(recs []rec, st stamp) []byte {
	maxTS := recs[0].ts
	for _, r := range recs {
		maxTS = max(maxTS, r.ts)
	}
	pid, epoch, seq, txn := st.fields()
	var attrs int16
	if txn {
		attrs |= 0x10
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       recs[0].ts,
		MaxTimestamp:         maxTS,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(recs)),
		Records:              kmsgRecords(recs),
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], testCRCTable))
	return rb.AppendTo(nil)
}

// refDecompress decompresses a records section with the codec libraries
// directly (and the standard library's gzip), not through the package.
func refDecompress(codec batch.Codec, data []byte) ([]byte, error) {
	switch codec {
	case batch.None:
		return data, nil
	case batch.Gzip:
		r, err := stdgzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case batch.Snappy:
		magic := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}
		if !bytes.HasPrefix(data, magic) || len(data) < 16 {
			return nil, fmt.Errorf("snappy: no xerial header")
		}
		if v, c := binary.BigEndian.Uint32(data[8:]), binary.BigEndian.Uint32(data[12:]); v != 1 || c != 1 {
			return nil, fmt.Errorf("snappy: xerial version %d, compatible %d", v, c)
		}
		var out []byte
		for p := data[16:]; len(p) > 0; {
			if len(p) < 4 {
				return nil, fmt.Errorf("snappy: truncated block length")
			}
			n := binary.BigEndian.Uint32(p)
			p = p[4:]
			if int(n) > len(p) {
				return nil, fmt.Errorf("snappy: truncated block")
			}
			d, err := snappy.Decode(nil, p[:n])
			if err != nil {
				return nil, err
			}
			if len(d) > 32<<10 {
				return nil, fmt.Errorf("snappy: block of %d bytes, want at most 32 KiB", len(d))
			}
			out = append(out, d...)
			p = p[n:]
		}
		return out, nil
	case batch.LZ4:
		return io.ReadAll(lz4.NewReader(bytes.NewReader(data)))
	case batch.Zstd:
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(data, nil)
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// decoded is a batch as an independent reader sees it.
type decoded struct {
	batch   kmsg.RecordBatch
	records []kmsg.Record
}

// decode parses a finished batch with kmsg, checks its length, magic and
// CRC, decompresses its records with refDecompress and decodes them with
// kmsg.Record.ReadFrom.
func decode(raw []byte) (decoded, error) {
	var d decoded
	if err := d.batch.ReadFrom(raw); err != nil {
		return d, fmt.Errorf("kmsg RecordBatch.ReadFrom: %w", err)
	}
	rb := &d.batch
	if int(rb.Length) != len(raw)-12 {
		return d, fmt.Errorf("batch length %d, want %d", rb.Length, len(raw)-12)
	}
	if rb.Magic != 2 {
		return d, fmt.Errorf("magic %d", rb.Magic)
	}
	if got, want := uint32(rb.CRC), crc32.Checksum(raw[21:], testCRCTable); got != want {
		return d, fmt.Errorf("crc %#x, want %#x", got, want)
	}
	records, err := refDecompress(batch.Codec(rb.Attributes&7), rb.Records)
	if err != nil {
		return d, fmt.Errorf("decompress: %w", err)
	}
	for len(records) > 0 {
		n, k := binary.Varint(records)
		if k <= 0 || n < 0 || int64(len(records)-k) < n {
			return d, fmt.Errorf("record %d: bad length", len(d.records))
		}
		var r kmsg.Record
		if err := r.ReadFrom(records[:k+int(n)]); err != nil {
			return d, fmt.Errorf("record %d: %w", len(d.records), err)
		}
		d.records = append(d.records, r)
		records = records[k+int(n):]
	}
	return d, nil
}

// check compares a decoded batch with the records and stamp it was built
// from.
func (d decoded) check(recs []rec, codec batch.Codec, st stamp) error {
	rb := &d.batch
	pid, epoch, seq, txn := st.fields()
	wantAttrs := int16(codec)
	if txn {
		wantAttrs |= 0x10
	}
	maxTS := recs[0].ts
	for _, r := range recs {
		maxTS = max(maxTS, r.ts)
	}
	switch {
	case rb.FirstOffset != 0:
		return fmt.Errorf("base offset %d", rb.FirstOffset)
	case rb.PartitionLeaderEpoch != -1:
		return fmt.Errorf("partition leader epoch %d", rb.PartitionLeaderEpoch)
	case rb.Attributes != wantAttrs:
		return fmt.Errorf("attributes %#x, want %#x", rb.Attributes, wantAttrs)
	case rb.LastOffsetDelta != int32(len(recs)-1):
		return fmt.Errorf("last offset delta %d, want %d", rb.LastOffsetDelta, len(recs)-1)
	case rb.FirstTimestamp != recs[0].ts || rb.MaxTimestamp != maxTS:
		return fmt.Errorf("timestamps %d..%d, want %d..%d", rb.FirstTimestamp, rb.MaxTimestamp, recs[0].ts, maxTS)
	case rb.ProducerID != pid || rb.ProducerEpoch != epoch || rb.FirstSequence != seq:
		return fmt.Errorf("producer %d/%d/%d, want %d/%d/%d", rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence, pid, epoch, seq)
	case rb.NumRecords != int32(len(recs)) || len(d.records) != len(recs):
		return fmt.Errorf("%d records in header, %d decoded, want %d", rb.NumRecords, len(d.records), len(recs))
	}
	for i, r := range recs {
		kr := &d.records[i]
		if kr.Attributes != 0 || kr.OffsetDelta != int32(i) || rb.FirstTimestamp+kr.TimestampDelta64 != r.ts {
			return fmt.Errorf("record %d: attributes %d, offset delta %d, timestamp %d; want 0, %d, %d",
				i, kr.Attributes, kr.OffsetDelta, rb.FirstTimestamp+kr.TimestampDelta64, i, r.ts)
		}
		if err := sameBytes("key", kr.Key, r.key); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := sameBytes("value", kr.Value, r.value); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if len(kr.Headers) != len(r.headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(kr.Headers), len(r.headers))
		}
		for j, h := range r.headers {
			if kr.Headers[j].Key != h.Key {
				return fmt.Errorf("record %d header %d: key %q, want %q", i, j, kr.Headers[j].Key, h.Key)
			}
			if err := sameBytes("header value", kr.Headers[j].Value, h.Value); err != nil {
				return fmt.Errorf("record %d header %d: %w", i, j, err)
			}
		}
	}
	return nil
}

// sameBytes compares two nullable byte fields, null and empty apart.
func sameBytes(what string, got, want []byte) error {
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		return fmt.Errorf("%s %s, want %s", what, show(got), show(want))
	}
	return nil
}

func show(p []byte) string {
	if p == nil {
		return "null"
	}
	if len(p) > 16 {
		return fmt.Sprintf("%q...(%d bytes)", p[:16], len(p))
	}
	return fmt.Sprintf("%q", p)
}

// randomRecords makes n records with nulls, empties, headers and timestamps
// that move both ways around base.
func randomRecords(rng *rand.Rand, n int, base int64) []rec {
	field := func(maxLen int) []byte {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		p := make([]byte, rng.IntN(maxLen+1))
		// Half text-like (compressible), half random.
		if rng.IntN(2) == 0 {
			for i := range p {
				p[i] = "abcdefgh {}:,\"0123456789"[rng.IntN(24)]
			}
		} else {
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
		}
		return p
	}
	recs := make([]rec, n)
	for i := range recs {
		r := &recs[i]
		r.ts = base + int64(rng.IntN(20001)) - 10000
		r.key = field(40)
		r.value = field(600)
		for j := rng.IntN(4); j > 0; j-- {
			r.headers = append(r.headers, batch.Header{Key: string(field(12)), Value: field(30)})
		}
	}
	return recs
}

// allCodecs lists each codec with levels worth testing.
var allCodecs = []struct {
	codec  batch.Codec
	levels []int
}{
	{batch.None, []int{batch.DefaultLevel}},
	{batch.Gzip, []int{batch.DefaultLevel, -1, 1, 6, 9}},
	{batch.Snappy, []int{batch.DefaultLevel}},
	{batch.LZ4, []int{batch.DefaultLevel, 1, 9, 10, 17}},
	{batch.Zstd, []int{batch.DefaultLevel, -5, 1, 3, 7, 19}},
}
