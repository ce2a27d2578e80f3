package batch

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// EachRecord calls fn for every record of the batch, in order, until fn
// returns false. It works before and after Finish; a compressed finished batch
// is first decompressed into a pooled scratch buffer. The Key, Value and
// header Values of a Record alias the batch or that scratch buffer: they are
// valid only during the call to fn (copy what must outlive it). Appending
// from inside fn is allowed and does not change what is visited. The error
// wraps ErrCorrupt if the records cannot be read back.
func (b *Builder) EachRecord(fn func(Record) bool) error {
	if b.n == 0 {
		return nil
	}
	records := b.buf[Overhead:]
	if b.finished && b.codec != None {
		sp := getScratch()
		defer putScratch(sp)
		*sp = slices.Grow((*sp)[:0], b.rawLen-Overhead)
		out, err := Decompress(b.codec, *sp, records)
		if err != nil {
			return err
		}
		*sp = out
		records = out
	}
	return parseRecords(records, b.n, b.firstTS, fn)
}

// recordReader reads the fields of one encoded record, remembering the first
// failure.
type recordReader struct {
	b   []byte
	err string
}

func (r *recordReader) fail(what string) {
	if r.err == "" {
		r.err = what
	}
	r.b = nil
}

func (r *recordReader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad " + what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// length reads a length field; nullable allows -1 (returned as -1).
func (r *recordReader) length(what string, nullable bool) int {
	v := r.varint(what)
	if (v == -1 && nullable) || r.err != "" {
		return int(v)
	}
	if v < 0 || v > int64(len(r.b)) {
		r.fail(what + " out of range")
		return 0
	}
	return int(v)
}

// bytes reads a length-prefixed field; a null one is nil.
func (r *recordReader) bytes(what string) []byte {
	n := r.length(what, true)
	if n < 0 || r.err != "" {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// parseRecords decodes exactly count records from data, which must hold
// nothing else, and hands each to fn until it returns false.
func parseRecords(data []byte, count int, baseTS int64, fn func(Record) bool) error {
	var headers []Header // reused from record to record
	for i := 0; i < count; i++ {
		n, k := binary.Varint(data)
		if k <= 0 || n < 1 || n > int64(len(data)-k) {
			return recordErr(i, "bad record length")
		}
		r := recordReader{b: data[k : k+int(n)]}
		data = data[k+int(n):]
		r.b = r.b[1:] // attributes: unused
		var rec Record
		rec.Timestamp = baseTS + r.varint("timestamp delta")
		if off := r.varint("offset delta"); r.err == "" && off != int64(i) {
			return recordErr(i, fmt.Sprintf("offset delta %d", off))
		}
		rec.Key = r.bytes("key length")
		rec.Value = r.bytes("value length")
		nh := r.length("header count", false)
		headers = headers[:0]
		for j := 0; j < nh && r.err == ""; j++ {
			k := r.length("header key length", false)
			if r.err != "" {
				break
			}
			key := string(r.b[:k])
			r.b = r.b[k:]
			headers = append(headers, Header{Key: key, Value: r.bytes("header value length")})
		}
		if r.err == "" && len(r.b) != 0 {
			r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
		}
		if r.err != "" {
			return recordErr(i, r.err)
		}
		if nh > 0 {
			rec.Headers = headers
		}
		if !fn(rec) {
			return nil
		}
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(data))
	}
	return nil
}

func recordErr(i int, what string) error {
	return fmt.Errorf("%w: record %d: %s", ErrCorrupt, i, what)
}
