package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ConsoleRecord is one record as Java's console consumer printed it.
type ConsoleRecord struct {
	Partition     int32
	Offset        int64
	TimestampType string // "CreateTime" or "LogAppendTime"
	Timestamp     int64  // milliseconds since the epoch
	Headers       []ConsoleHeader
	Key           []byte // nil for a null key
	Value         []byte // nil for a null value
}

// ConsoleHeader is one header of a ConsoleRecord.
type ConsoleHeader struct {
	Key   string
	Value []byte // nil for a null value
}

// NullMarker is what the console tools are told to print for (and read as)
// null, so that null and the text "null" stay apart.
const NullMarker = "<kafkatest:null>"

// ErrConsoleFormat reports a console consumer line that does not parse.
var ErrConsoleFormat = errors.New("kafkatest: console consumer line does not parse")

// ConsoleOptions tune ConsoleConsume and ConsoleProduce.
type ConsoleOptions struct {
	// ReadCommitted runs the consumer with --isolation-level read_committed.
	ReadCommitted bool
	// Timeout bounds the tool's run (default 60 s).
	Timeout time.Duration
	// Props are extra client properties (--command-property key=value).
	Props map[string]string
	// Include, for ConsoleConsume, reads every topic matching this Java
	// regular expression instead of one topic (one JVM start for many
	// topics). The console consumer does not print topic names: the
	// records must tell by their content which topic they came from.
	Include string
}

// ConsoleConsume reads want records of topic from its start with Java's
// console consumer (org.apache.kafka.tools.consumer.ConsoleConsumer) and
// returns them parsed, in the order it printed them (per partition in
// offset order). Needs the jars: without them the test is skipped (failed
// under CI).
//
// The default formatter prints bytes as they are, tab-separated, one record
// a line, so the records read this way must keep tabs and newlines out of
// keys, values and headers, commas out of header values and colons out of
// header keys; a line that does not parse fails the test.
func ConsoleConsume(t testing.TB, addrs []string, topic string, want int, o ConsoleOptions) []ConsoleRecord {
	t.Helper()
	lib := RequireKafka(t)
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	args := []string{
		"--bootstrap-server", strings.Join(addrs, ","),
		"--from-beginning",
		"--max-messages", strconv.Itoa(want),
		"--timeout-ms", strconv.Itoa(int(o.Timeout.Milliseconds())),
		"--command-property", "max.partition.fetch.bytes=" + strconv.Itoa(4<<20),
	}
	if o.Include != "" {
		args, topic = append(args, "--include", o.Include), o.Include
	} else {
		args = append(args, "--topic", topic)
	}
	if o.ReadCommitted {
		args = append(args, "--isolation-level", "read_committed")
	}
	for k, v := range o.Props {
		args = append(args, "--command-property", k+"="+v)
	}
	for _, p := range []string{
		"print.timestamp=true", "print.partition=true", "print.offset=true",
		"print.headers=true", "print.key=true", "print.value=true",
		"key.separator=\t", "headers.separator=,", "line.separator=\n",
		"null.literal=" + NullMarker,
	} {
		args = append(args, "--formatter-property", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout+30*time.Second)
	defer cancel()
	out, err := runTool(ctx, lib, t.TempDir(), nil, "org.apache.kafka.tools.consumer.ConsoleConsumer", args...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []ConsoleRecord
	if out = bytes.TrimSuffix(out, []byte("\n")); len(out) > 0 {
		for line := range bytes.SplitSeq(out, []byte("\n")) {
			r, err := parseConsoleLine(line)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	if len(recs) != want {
		t.Fatalf("kafkatest: the console consumer read %d of %d records of %s", len(recs), want, topic)
	}
	return recs
}

// parseConsoleLine parses one line the default formatter printed with every
// print.* property on:
//
//	CreateTime:<ms>\tPartition:<p>\tOffset:<o>\t<headers>\t<key>\t<value>
//
// where <headers> is NO_HEADERS or k1:v1,k2:v2 and NullMarker stands for
// null.
func parseConsoleLine(line []byte) (ConsoleRecord, error) {
	var r ConsoleRecord
	f := strings.Split(string(line), "\t")
	if len(f) != 6 {
		return r, fmt.Errorf("%w: %d tab-separated fields, want 6: %.200q", ErrConsoleFormat, len(f), line)
	}
	typ, ts, ok := strings.Cut(f[0], ":")
	if !ok || (typ != "CreateTime" && typ != "LogAppendTime") {
		return r, fmt.Errorf("%w: timestamp field %q", ErrConsoleFormat, f[0])
	}
	var err error
	r.TimestampType = typ
	if r.Timestamp, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return r, fmt.Errorf("%w: timestamp %q", ErrConsoleFormat, ts)
	}
	p, ok := strings.CutPrefix(f[1], "Partition:")
	p32, err := strconv.ParseInt(p, 10, 32)
	if !ok || err != nil || p32 < 0 {
		return r, fmt.Errorf("%w: partition field %q", ErrConsoleFormat, f[1])
	}
	r.Partition = int32(p32)
	o, ok := strings.CutPrefix(f[2], "Offset:")
	if r.Offset, err = strconv.ParseInt(o, 10, 64); !ok || err != nil || r.Offset < 0 {
		return r, fmt.Errorf("%w: offset field %q", ErrConsoleFormat, f[2])
	}
	if f[3] != "NO_HEADERS" {
		for h := range strings.SplitSeq(f[3], ",") {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				return r, fmt.Errorf("%w: header %q", ErrConsoleFormat, h)
			}
			r.Headers = append(r.Headers, ConsoleHeader{Key: k, Value: nullable(v)})
		}
	}
	r.Key, r.Value = nullable(f[4]), nullable(f[5])
	return r, nil
}

func nullable(s string) []byte {
	if s == NullMarker {
		return nil
	}
	return []byte(s)
}

// KeyValue is one line for ConsoleProduce.
type KeyValue struct{ Key, Value string }

// ConsoleProduce writes records to topic with Java's console producer
// (org.apache.kafka.tools.ConsoleProducer, parse.key=true), so the Java
// client's default partitioner places each keyed record. Keys and values
// must not hold tabs or newlines. acks=all, sent in order.
func ConsoleProduce(t testing.TB, addrs []string, topic string, recs []KeyValue, o ConsoleOptions) {
	t.Helper()
	lib := RequireKafka(t)
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	var in bytes.Buffer
	for _, r := range recs {
		if strings.ContainsAny(r.Key+r.Value, "\t\n") {
			t.Fatalf("kafkatest: ConsoleProduce: tab or newline in %q/%q", r.Key, r.Value)
		}
		in.WriteString(r.Key + "\t" + r.Value + "\n")
	}
	args := []string{
		"--bootstrap-server", strings.Join(addrs, ","),
		"--topic", topic,
		"--request-required-acks", "all",
		"--reader-property", "parse.key=true",
		"--reader-property", "key.separator=\t",
		"--reader-property", "null.marker=" + NullMarker,
		"--command-property", "linger.ms=5",
	}
	for k, v := range o.Props {
		args = append(args, "--command-property", k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if _, err := runTool(ctx, lib, t.TempDir(), &in, "org.apache.kafka.tools.ConsoleProducer", args...); err != nil {
		t.Fatal(err)
	}
}
