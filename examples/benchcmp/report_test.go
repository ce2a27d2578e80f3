package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1, 1000, 10}, 10},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("median reordered its input: %v", in)
			}
		}
	}
}

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		prec int
		want string
	}{
		{0, 0, "0"},
		{999, 0, "999"},
		{1000, 0, "1,000"},
		{1234567.891, 0, "1,234,568"},
		{1234567.891, 2, "1,234,567.89"},
		{-1234.5, 1, "-1,234.5"},
		{0.1234, 3, "0.123"},
	} {
		if got := group(tc.v, tc.prec); got != tc.want {
			t.Errorf("group(%v, %d) = %q, want %q", tc.v, tc.prec, got, tc.want)
		}
	}
}

// runsOf makes n results of lib for workload w with the given records/s,
// the rest of the figures fixed.
func runsOf(lib, w string, allocs, p99 float64, rates ...float64) []result {
	var rs []result
	for _, r := range rates {
		rs = append(rs, result{Lib: lib, Workload: w, Records: 1000, Seconds: 1, RecordsPerSec: r,
			AllocsPerRec: allocs, P99Ms: p99, StartRSSKiB: 10 << 10, PeakRSSKiB: 30 << 10})
	}
	return rs
}

// TestReportTargets checks the tables' medians, ratios and spread, and the
// targets' verdicts on the kfake broker, where a target about a client that
// did not run is "not measured".
func TestReportTargets(t *testing.T) {
	a, _ := findWorkload("a")
	b, _ := findWorkload("b")
	d, _ := findWorkload("d")
	outs := []outcome{
		// a: median 130 vs 100 → 1.30 < 1.5: missed; the ceiling did not
		// run: not measured; allocs 0.05 ≤ 0.05 and RSS 20 MiB: met.
		{w: a, partitions: 3, runs: map[string][]result{
			"kprod": runsOf("kprod", "a", 0.05, 1, 10, 130, 200),
			"kgo":   runsOf("kgo", "a", 2, 1, 100, 90, 500),
		}},
		// b: 0.9 × kgo and allocs 0.5: two misses.
		{w: b, partitions: 3, runs: map[string][]result{
			"kprod": runsOf("kprod", "b", 0.5, 1, 90),
			"kgo":   runsOf("kgo", "b", 1, 1, 100),
		}},
		// d: p99 2 ms vs kgo's 1 ms: missed; allocs met.
		{w: d, partitions: 3, runs: map[string][]result{
			"kprod": runsOf("kprod", "d", 0, 2, 10000),
			"kgo":   runsOf("kgo", "d", 3, 1, 10000),
		}},
	}
	var buf bytes.Buffer
	missed := writeReport(&buf, outs, brokerKfake)
	if missed != 4 {
		t.Errorf("missed = %d, want 4\n%s", missed, &buf)
	}
	out := buf.String()
	for _, want := range []string{
		"### a 100 B, none, linger 5ms (batch.size 16 KiB, 3 partitions in the topic of this run)",
		"| metric | kprod | kgo |",
		"| records/s | 130 | 100 (0.77) |",
		"| records/s min–max | 10–200 | 90–500 |",
		"| allocs/record | 0.500 | 1.000 (2.00) |",
		"| p99 latency ms | 2.000 | 1.000 (0.50) |",
		"| RSS growth MiB | 20.0 | 20.0 (1.00) |",
		"| records/s ≥ 1.5× kgo's | a | kprod 130, kgo 100: 1.30× | **missed** |",
		"| records/s ≥ 0.8× the ceiling's | a | ceiling did not run | not measured |",
		"| allocs/record ≤ 0.05 | a | kprod 0.050 | met |",
		"| allocs/record ≤ 0.05 | b | kprod 0.500 | **missed** |",
		"| p99 ≤ the best peer's | d | kprod 2.000 ms, best kgo 1.000 ms over 1 runs | **missed** |",
		"| RSS growth ≤ buffer.memory + 16 MiB (48 MiB) | a | kprod 20.0 MiB | met |",
		"a kprod      records/s per run: 10 130 200; peak RSS MiB: 30.0 30.0 30.0",
		"d kgo        records/s per run: 10,000; p99 ms: 1.000; peak RSS MiB: 30.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "| p99 latency ms |") != 1 {
		t.Errorf("latency rows shown for a throughput workload:\n%s", out)
	}
}

// TestReportRealKafkaTargets checks the real-Kafka targets: records/s
// against every peer and CPU per record against Java, kgo and librdkafka,
// with peers that did not run "not measured".
func TestReportRealKafkaTargets(t *testing.T) {
	a, _ := findWorkload("a")
	withCPU := func(rs []result, cpu float64) []result {
		for i := range rs {
			rs[i].CPUMicrosPerRec = cpu
		}
		return rs
	}
	outs := []outcome{{w: a, runs: map[string][]result{
		"kprod": withCPU(runsOf("kprod", "a", 0.01, 1, 200), 1),
		"kgo":   withCPU(runsOf("kgo", "a", 1, 1, 100), 1.5),
		"java":  withCPU(runsOf("java", "a", 0, 1, 300), 1.5),
	}}}
	var buf bytes.Buffer
	missed := writeReport(&buf, outs, brokerKafka)
	out := buf.String()
	for _, want := range []string{
		"| records/s ≥ kgo's | a | kprod 200, kgo 100: 2.00× | met |",
		"| records/s ≥ java's | a | kprod 200, java 300: 0.67× | **missed** |",
		"| records/s ≥ sarama's | a | sarama did not run | not measured |",
		"| CPU/record ≤ 0.5× java's | a | kprod 1.000, java 1.500: 0.67× | **missed** |",
		"| CPU/record ≤ 0.8× kgo's | a | kprod 1.000, kgo 1.500: 0.67× | met |",
		"| CPU/record ≤ 0.8× librdkafka's | a | librdkafka did not run | not measured |",
		"| allocs/record | 0.010 | 1.000 (100.00) | – |",
		"(java: ProducerPerformance prints its latency percentiles in whole milliseconds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if missed != 2 {
		t.Errorf("missed = %d, want 2\n%s", missed, out)
	}
	if strings.Contains(out, "1.5×") {
		t.Errorf("kfake targets judged on real Kafka:\n%s", out)
	}
}

// TestReportOneLibrary checks a report with only kprod runs has no ratios
// and no comparative verdict but "not measured".
func TestReportOneLibrary(t *testing.T) {
	a, _ := findWorkload("a")
	var buf bytes.Buffer
	missed := writeReport(&buf, []outcome{{w: a, runs: map[string][]result{"kprod": runsOf("kprod", "a", 0.01, 1, 5)}}}, brokerKfake)
	if missed != 0 {
		t.Errorf("missed = %d with one library, want 0", missed)
	}
	out := buf.String()
	if !strings.Contains(out, "| metric | kprod |\n") || !strings.Contains(out, "| records/s | 5 |") {
		t.Errorf("unexpected report:\n%s", out)
	}
	if !strings.Contains(out, "| records/s ≥ 1.5× kgo's | a | kgo did not run | not measured |") {
		t.Errorf("a missing peer is not 'not measured':\n%s", out)
	}
}
