package interop

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// kcatString writes b as a JSON string the way kcat does: quotes,
// backslashes and control bytes escaped, everything else (invalid UTF-8
// included) as it is.
func kcatString(dst, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// kcatLine writes m as one line of kcat -J output.
func kcatLine(m Message) []byte {
	field := func(dst, b []byte) []byte {
		if b == nil {
			return append(dst, "null"...)
		}
		return kcatString(dst, b)
	}
	out := kcatString([]byte(`{"topic":`), []byte(m.Topic))
	out = fmt.Appendf(out, `,"partition":%d,"offset":%d,"tstype":`, m.Partition, m.Offset)
	out = kcatString(out, []byte(m.TimestampType))
	out = fmt.Appendf(out, `,"ts":%d,"broker":%d`, m.Timestamp, m.Broker)
	if len(m.Headers) > 0 {
		out = append(out, `,"headers":[`...)
		for i, h := range m.Headers {
			if i > 0 {
				out = append(out, ',')
			}
			out = kcatString(out, []byte(h.Key))
			out = append(out, ',')
			out = field(out, h.Value)
		}
		out = append(out, ']')
	}
	out = append(out, `,"key":`...)
	out = field(out, m.Key)
	out = append(out, `,"payload":`...)
	out = field(out, m.Value)
	return append(out, '}')
}

// sameMessage compares two messages, null apart from empty.
func sameMessage(a, b Message) error {
	same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	switch {
	case a.Topic != b.Topic || a.Partition != b.Partition || a.Offset != b.Offset:
		return fmt.Errorf("position %s/%d@%d != %s/%d@%d", a.Topic, a.Partition, a.Offset, b.Topic, b.Partition, b.Offset)
	case a.Timestamp != b.Timestamp || a.TimestampType != b.TimestampType:
		return fmt.Errorf("timestamp %s %d != %s %d", a.TimestampType, a.Timestamp, b.TimestampType, b.Timestamp)
	case !same(a.Key, b.Key):
		return fmt.Errorf("key %q (nil %v) != %q (nil %v)", a.Key, a.Key == nil, b.Key, b.Key == nil)
	case !same(a.Value, b.Value):
		return fmt.Errorf("value of %d bytes (nil %v) != %d bytes (nil %v)", len(a.Value), a.Value == nil, len(b.Value), b.Value == nil)
	case len(a.Headers) != len(b.Headers):
		return fmt.Errorf("%d headers != %d", len(a.Headers), len(b.Headers))
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !same(a.Headers[i].Value, b.Headers[i].Value) {
			return fmt.Errorf("header %d: %q=%q != %q=%q", i, a.Headers[i].Key, a.Headers[i].Value, b.Headers[i].Key, b.Headers[i].Value)
		}
	}
	return nil
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want Message
		err  error
	}{{
		name: "nulls",
		line: `{"topic":"t","partition":0,"offset":0,"tstype":"create","ts":12345,"broker":0,"headers":["a",null,"b","","c","q\"\n\\\u0001é"],"key":null,"payload":null}`,
		want: Message{Topic: "t", TimestampType: "create", Timestamp: 12345,
			Headers: []Header{{Key: "a"}, {Key: "b", Value: []byte{}}, {Key: "c", Value: []byte("q\"\n\\\x01é")}}},
	}, {
		name: "empty",
		line: `{"topic":"t","partition":1,"offset":7,"tstype":"create","ts":1,"broker":2,"key":"","payload":""}`,
		want: Message{Topic: "t", Partition: 1, Offset: 7, TimestampType: "create", Timestamp: 1, Broker: 2, Key: []byte{}, Value: []byte{}},
	}, {
		name: "raw bytes",
		line: "{\"topic\":\"t\",\"partition\":1,\"offset\":2,\"tstype\":\"logappend\",\"ts\":5,\"broker\":0,\"key\":\"\xff\xfea\",\"payload\":\"\\u0000\\u0001\\u0002\x80\"}",
		want: Message{Topic: "t", Partition: 1, Offset: 2, TimestampType: "logappend", Timestamp: 5, Key: []byte{0xff, 0xfe, 'a'}, Value: []byte{0, 1, 2, 0x80}},
	}, {
		name: "surrogate pair and escapes",
		line: `{"topic":"t","partition":0,"offset":0,"key":"\ud83d\ude00\/\b\f\r\t","payload":"\u00e9"}`,
		want: Message{Topic: "t", Key: []byte("😀/\b\f\r\t"), Value: []byte("é")},
	}, {
		name: "no key or payload fields read as null",
		line: `{"topic":"t","partition":0,"offset":0}`,
		want: Message{Topic: "t"},
	},
		{name: "not json", line: `% Reached end of topic`, err: ErrMalformed},
		{name: "no offset", line: `{"topic":"t","partition":0}`, err: ErrMalformed},
		{name: "odd headers", line: `{"topic":"t","partition":0,"offset":0,"headers":["a"]}`, err: ErrMalformed},
		{name: "null header key", line: `{"topic":"t","partition":0,"offset":0,"headers":[null,"a"]}`, err: ErrMalformed},
		{name: "lone surrogate", line: `{"topic":"t","partition":0,"offset":0,"key":"\ud800x"}`, err: ErrMalformed},
		{name: "bad escape", line: `{"topic":"t","partition":0,"offset":0,"key":"\q"}`, err: ErrMalformed},
		{name: "key is a number", line: `{"topic":"t","partition":0,"offset":0,"key":5}`, err: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tc.line))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := sameMessage(got, tc.want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestKcatLineRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	m := Message{Topic: "t", Partition: 3, Offset: 99, TimestampType: "create", Timestamp: -1, Key: all, Value: []byte{},
		Headers: []Header{{Key: string(all), Value: nil}, {Key: "", Value: all}}}
	got, err := ParseLine(kcatLine(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := sameMessage(got, m); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"topic":"t","partition":0,"offset":0,"tstype":"create","ts":12345,"broker":0,"headers":["a",null,"b",""],"key":null,"payload":null}`))
	f.Add([]byte(`{"topic":"t","partition":0,"offset":0,"key":"\ud83d\ude00","payload":"\u0000"}`))
	f.Add([]byte("{\"topic\":\"t\",\"partition\":1,\"offset\":2,\"key\":\"\xff\",\"payload\":\"\\\"\"}"))
	f.Add([]byte(`{"topic":"t","partition":0,"offset":0,"key":"\ud800"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Whatever parsed must survive being written the kcat way and read again.
		again, err := ParseLine(kcatLine(m))
		if err != nil {
			t.Fatalf("re-encoded line does not parse: %v", err)
		}
		if err := sameMessage(again, m); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzKcatRoundTrip(f *testing.F) {
	f.Add([]byte("key"), []byte("value"), "h", []byte("hv"), false, false, int64(1_700_000_000_000), int32(0), int64(0))
	f.Add([]byte{}, []byte{}, "", []byte{}, false, false, int64(0), int32(1), int64(1))
	f.Add([]byte(nil), []byte(nil), "h", []byte(nil), true, true, int64(-1), int32(2), int64(1<<40))
	f.Add([]byte{0, 0x1f, 0x7f, 0x80, 0xff}, []byte("\"\\/\n\t\u2028"), "\x00\xff", []byte("é😀"), false, false, int64(5), int32(3), int64(5))
	f.Fuzz(func(t *testing.T, key, value []byte, hk string, hv []byte, nullKey, nullValue bool, ts int64, part int32, off int64) {
		if key == nil {
			key = []byte{}
		}
		if value == nil {
			value = []byte{}
		}
		if nullKey {
			key = nil
		}
		if nullValue {
			value = nil
		}
		m := Message{Topic: "topic-" + strconv.Itoa(int(part&7)), Partition: part, Offset: off, TimestampType: "create",
			Timestamp: ts, Key: key, Value: value, Headers: []Header{{Key: hk, Value: hv}}}
		got, err := ParseLine(kcatLine(m))
		if err != nil {
			t.Fatal(err)
		}
		if err := sameMessage(got, m); err != nil {
			t.Fatal(err)
		}
	})
}
