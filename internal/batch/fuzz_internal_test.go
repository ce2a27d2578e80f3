package batch

import (
	"errors"
	"testing"
)

func FuzzParseRecords(f *testing.F) {
	var b Builder
	b.Append(10, []byte("key"), []byte("value"), []Header{{Key: "h", Value: []byte("v")}, {Key: "n"}})
	b.Append(-5, nil, []byte{}, nil)
	f.Add(b.buf[Overhead:], uint8(2))
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, count uint8) {
		var got []Record
		err := parseRecords(data, int(count), 1000, func(r Record) bool {
			got = append(got, Record{Timestamp: r.Timestamp, Key: clone(r.Key), Value: clone(r.Value), Headers: append([]Header(nil), r.Headers...)})
			return true
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(got) != int(count) {
			t.Fatalf("%d records yielded, want %d", len(got), count)
		}
		// What parsed must encode and parse back to the same records.
		var b Builder
		b.Reset(nil)
		for _, r := range got {
			b.Append(r.Timestamp, r.Key, r.Value, r.Headers)
		}
		i := 0
		err = parseRecords(b.buf[Overhead:], b.n, b.firstTS, func(r Record) bool {
			w := got[i]
			if r.Timestamp != w.Timestamp || string(r.Key) != string(w.Key) || (r.Key == nil) != (w.Key == nil) ||
				string(r.Value) != string(w.Value) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
				t.Fatalf("record %d changed on re-encoding", i)
			}
			i++
			return true
		})
		if err != nil {
			t.Fatalf("re-encoded records do not parse: %v", err)
		}
	})
}

func clone(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}
