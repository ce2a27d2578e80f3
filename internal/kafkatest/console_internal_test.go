package kafkatest

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// formatConsoleLine prints r as the console consumer's default formatter
// does with every print.* property on and null.literal=NullMarker (the
// format parseConsoleLine reads), for round trips.
func formatConsoleLine(r ConsoleRecord) string {
	or := func(b []byte) string {
		if b == nil {
			return NullMarker
		}
		return string(b)
	}
	hs := "NO_HEADERS"
	if len(r.Headers) > 0 {
		var parts []string
		for _, h := range r.Headers {
			parts = append(parts, h.Key+":"+or(h.Value))
		}
		hs = strings.Join(parts, ",")
	}
	return r.TimestampType + ":" + strconv.FormatInt(r.Timestamp, 10) +
		"\tPartition:" + strconv.Itoa(int(r.Partition)) +
		"\tOffset:" + strconv.FormatInt(r.Offset, 10) +
		"\t" + hs + "\t" + or(r.Key) + "\t" + or(r.Value)
}

func TestParseConsoleLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want ConsoleRecord
	}{
		{"CreateTime:1700000000123\tPartition:2\tOffset:0\th1:v1,h2:,h3:" + NullMarker + "\tk1\tval1",
			ConsoleRecord{Partition: 2, Offset: 0, TimestampType: "CreateTime", Timestamp: 1700000000123,
				Headers: []ConsoleHeader{{"h1", []byte("v1")}, {"h2", []byte{}}, {"h3", nil}}, Key: []byte("k1"), Value: []byte("val1")}},
		{"LogAppendTime:5\tPartition:0\tOffset:17\tNO_HEADERS\t" + NullMarker + "\t",
			ConsoleRecord{Partition: 0, Offset: 17, TimestampType: "LogAppendTime", Timestamp: 5, Key: nil, Value: []byte{}}},
		{"CreateTime:-1\tPartition:1\tOffset:3\tid:a:b\tnull\t" + NullMarker,
			ConsoleRecord{Partition: 1, Offset: 3, TimestampType: "CreateTime", Timestamp: -1,
				Headers: []ConsoleHeader{{"id", []byte("a:b")}}, Key: []byte("null"), Value: nil}},
	} {
		got, err := parseConsoleLine([]byte(tc.line))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
		if back := formatConsoleLine(got); back != tc.line {
			t.Fatalf("round trip: %q became %q", tc.line, back)
		}
	}
	for _, bad := range []string{
		"",
		"CreateTime:1\tPartition:0\tOffset:0\tNO_HEADERS\tk",              // a field short
		"CreateTime:1\tPartition:0\tOffset:0\tNO_HEADERS\tk\tv\tx",        // a tab in the value
		"Created:1\tPartition:0\tOffset:0\tNO_HEADERS\tk\tv",              // unknown timestamp type
		"CreateTime:x\tPartition:0\tOffset:0\tNO_HEADERS\tk\tv",           // timestamp not a number
		"CreateTime:1\tPart:0\tOffset:0\tNO_HEADERS\tk\tv",                // no Partition:
		"CreateTime:1\tPartition:-1\tOffset:0\tNO_HEADERS\tk\tv",          // negative partition
		"CreateTime:1\tPartition:0\tOffset:-5\tNO_HEADERS\tk\tv",          // negative offset
		"CreateTime:1\tPartition:0\tOffset:0\tnocolon\tk\tv",              // header without ':'
		"CreateTime:1\tPartition:99999999999\tOffset:0\tNO_HEADERS\tk\tv", // partition over int32
	} {
		if _, err := parseConsoleLine([]byte(bad)); !errors.Is(err, ErrConsoleFormat) {
			t.Errorf("%q: %v, want ErrConsoleFormat", bad, err)
		}
	}
}

// FuzzParseConsoleLine: no line panics the parser, and a line it accepts
// prints back to itself.
func FuzzParseConsoleLine(f *testing.F) {
	f.Add([]byte("CreateTime:1700000000123\tPartition:2\tOffset:0\th1:v1,h2:\tk1\tval1"))
	f.Add([]byte("LogAppendTime:5\tPartition:0\tOffset:17\tNO_HEADERS\t" + NullMarker + "\t"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseConsoleLine(line)
		if err != nil {
			return
		}
		back, err := parseConsoleLine([]byte(formatConsoleLine(r)))
		if err != nil {
			t.Fatalf("%q parsed, but its reprint does not: %v", line, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("%q: %+v reprinted as %+v", line, r, back)
		}
	})
}
