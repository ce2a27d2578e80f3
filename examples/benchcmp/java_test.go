package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestParseJavaSummary reads the summary lines of a captured
// ProducerPerformance run and rejects its other lines. (The testdata file
// is the output of one run, followed by an excerpt of the --print-metrics
// section of a second run with the same settings.)
func TestParseJavaSummary(t *testing.T) {
	b, err := os.ReadFile("testdata/producer-performance.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []javaSummary
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := parseJavaSummary(line); ok {
			got = append(got, s)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d summary lines, want 2: %+v", len(got), got)
	}
	total, steady := got[0], got[1]
	if total.steady || total.records != 300000 || total.recordsPerSec != 132919.805051 || total.p99 != 19 || total.maxMs != 748 {
		t.Errorf("total line: %+v", total)
	}
	if !steady.steady || steady.records != 200000 || steady.recordsPerSec != 185356.811863 || steady.p50 != 6 ||
		steady.p95 != 14 || steady.p99 != 20 || steady.p999 != 24 || steady.avgMs != 6.67 || steady.maxMs != 30 {
		t.Errorf("steady-state line: %+v", steady)
	}
	for _, line := range []string{"", "In steady state.", "64138 records sent, 319094.5 records/sec (0.91 MB/sec), 5.2 ms avg latency, 16.0 ms max latency.",
		"0 records sent, 0.0 records/sec (0.00 MB/sec), 0.00 ms avg latency, 0.00 ms max latency, 0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms 99.9th."} {
		if s, ok := parseJavaSummary(line); ok {
			t.Errorf("parseJavaSummary(%q) = %+v, want no summary", line, s)
		}
	}
}

// TestReadJavaOutput follows the captured run: CPU is sampled at the
// steady-state marker and at the first summary, and charged to the records
// answered after the window the marker closed.
func TestReadJavaOutput(t *testing.T) {
	f, err := os.Open("testdata/producer-performance.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := 0
	cpu := func() (time.Duration, error) {
		calls++
		return time.Duration(calls) * time.Second, nil // 1 s at the marker, 2 s at the summary
	}
	r, err := readJavaOutput(f, cpu)
	if err != nil {
		t.Fatal(err)
	}
	// The marker closed the window ending at 1+14895+45705+64138 records.
	timed := 300000 - (1 + 14895 + 45705 + 64138)
	if want := 1e6 / float64(timed); r.CPUMicrosPerRec != want {
		t.Errorf("CPU µs/record = %v, want %v", r.CPUMicrosPerRec, want)
	}
	if r.Lib != libJava || r.Records != 200000 || r.RecordsPerSec != 185356.811863 || r.P50Ms != 6 || r.P99Ms != 20 || r.MaxMs != 30 ||
		r.RecordsPerRequest != 1459.854 || calls != 2 {
		t.Errorf("result %+v after %d CPU samples", r, calls)
	}

	// A run too short to print the marker is an error, not a figure.
	short := "1000 records sent, 1000.0 records/sec (0.10 MB/sec), 1.00 ms avg latency, 2.00 ms max latency, 1 ms 50th, 1 ms 95th, 2 ms 99th, 2 ms 99.9th.\n"
	if _, err := readJavaOutput(strings.NewReader(short), cpu); !errors.Is(err, errJavaOutput) {
		t.Errorf("no marker: %v, want errJavaOutput", err)
	}
}

// TestPayloadFile checks the Java tool's payload file holds the corpus,
// one value a line.
func TestPayloadFile(t *testing.T) {
	dir := t.TempDir()
	path, err := writePayloadFile(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	vals := makeValues(100)
	if len(lines) != len(vals) || lines[0] != string(vals[0]) || lines[len(lines)-1] != string(vals[len(vals)-1]) {
		t.Errorf("%d lines for %d values", len(lines), len(vals))
	}
}
