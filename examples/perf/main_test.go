package main

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// summaryKeys are the fields of the summary line, in order.
var summaryKeys = []string{"records", "bytes", "seconds", "records_per_sec", "mb_per_sec",
	"latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "errors"}

// parseSummary finds the one summary line in out and returns its fields.
func parseSummary(t *testing.T, out string) map[string]float64 {
	t.Helper()
	var line string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "records=") {
			if line != "" {
				t.Fatalf("two summary lines:\n%s", out)
			}
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no summary line in:\n%s", out)
	}
	fields := strings.Fields(line)
	if len(fields) != len(summaryKeys) {
		t.Fatalf("summary %q has %d fields, want %d", line, len(fields), len(summaryKeys))
	}
	got := make(map[string]float64)
	for i, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != summaryKeys[i] {
			t.Fatalf("field %d of %q is %q, want %s=...", i, line, f, summaryKeys[i])
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("field %s of %q: %v", k, line, err)
		}
		got[k] = n
	}
	return got
}

// TestPerfEmbedded runs the tool briefly on the embedded cluster, in each
// cluster shape, and checks the summary adds up.
func TestPerfEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"one broker", []string{"-records", "20000", "-record-size", "64"}},
		{"blackhole keyed lz4", []string{"-records", "20000", "-record-size", "64", "-blackhole", "-keys", "50", "-compression", "lz4"}},
		{"three brokers with props", []string{"-records", "5000", "-record-size", "64", "-embedded-brokers", "3",
			"-producer-props", "linger.ms=1,batch.size=8192,compression.type=zstd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			failed, err := run(append(tc.args, "-timeout", "60s", "-interval", "100ms"), &out, &errOut)
			if err != nil || failed != 0 {
				t.Fatalf("run: failed=%d err=%v\nstdout:\n%s\nstderr:\n%s", failed, err, &out, &errOut)
			}
			s := parseSummary(t, out.String())
			records := s["records"]
			if s["errors"] != 0 || s["bytes"] != records*64 {
				t.Errorf("summary %v: want no errors and bytes = 64 × records", s)
			}
			if s["seconds"] <= 0 || s["records_per_sec"] <= 0 || s["mb_per_sec"] <= 0 {
				t.Errorf("summary %v: want positive time and rates", s)
			}
			if !(s["latency_p50_ms"] <= s["latency_p99_ms"] && s["latency_p99_ms"] <= s["latency_max_ms"]*1.02) {
				t.Errorf("summary %v: latency quantiles out of order", s)
			}
			if s["latency_avg_ms"] <= 0 || s["latency_avg_ms"] > s["latency_max_ms"] {
				t.Errorf("summary %v: average latency outside (0, max]", s)
			}
		})
	}
}

// TestPerfThroughputCap checks -throughput paces the run: 3000 records at
// 6000/s cannot take much less than half a second.
func TestPerfThroughputCap(t *testing.T) {
	var out bytes.Buffer
	failed, err := run([]string{"-records", "3000", "-throughput", "6000", "-linger", "0", "-interval", "0"}, &out, io.Discard)
	if err != nil || failed != 0 {
		t.Fatalf("run: failed=%d err=%v\n%s", failed, err, &out)
	}
	s := parseSummary(t, out.String())
	if s["seconds"] < 0.45 {
		t.Errorf("3000 records at 6000/s took %.3fs, want ≥ 0.45s", s["seconds"])
	}
	if s["records_per_sec"] > 6600 {
		t.Errorf("rate %.0f records/s exceeds the cap of 6000 by more than 10%%", s["records_per_sec"])
	}
}

// TestPerfErrors checks that a run whose records fail reports them and
// fails: records larger than max.request.size are refused.
func TestPerfErrors(t *testing.T) {
	var out bytes.Buffer
	failed, err := run([]string{"-records", "10", "-record-size", "2048", "-interval", "0",
		"-producer-props", "max.request.size=1024"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if failed != 10 {
		t.Errorf("failed = %d, want 10", failed)
	}
	if s := parseSummary(t, out.String()); s["errors"] != 10 {
		t.Errorf("summary errors = %v, want 10", s["errors"])
	}
}

// TestPerfBadArguments checks bad command lines fail with errUsage before
// anything starts.
func TestPerfBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-records", "0"},
		{"-record-size", "-1"},
		{"-keys", "-3"},
		{"-topic", ""},
		{"-acks", "2"},
		{"-compression", "brotli"},
		{"-producer-props", "linger.ms"},
		{"-producer-props", "acks=1,acks=0"},
		{"-producer-props", "no.such.property=1"},
		{"-blackhole", "-brokers", "127.0.0.1:1"},
		{"-embedded-brokers", "0"},
		{"-timeout", "0s"},
		{"extra"},
		{"-no-such-flag"},
	} {
		_, err := run(append(args, "-interval", "0"), io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("run(%q) = %v, want errUsage", args, err)
		}
	}
}

// TestFlagsOnlyWhenGiven checks producer flags left alone add no options,
// so the producer's defaults (and -producer-props) decide.
func TestFlagsOnlyWhenGiven(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := o.producerOpts([]string{"127.0.0.1:1"})
	if err != nil || len(opts) != 2 {
		t.Fatalf("defaults give %d options (%v), want 2 (brokers, client id)", len(opts), err)
	}
	o, err = parseFlags([]string{"-acks", "1", "-linger", "0s", "-batch-size", "1024", "-compression", "zstd",
		"-idempotent=false", "-producer-props", "retries=3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts, err = o.producerOpts([]string{"127.0.0.1:1"}); err != nil || len(opts) != 8 {
		t.Fatalf("all flags give %d options (%v), want 8", len(opts), err)
	}
}
