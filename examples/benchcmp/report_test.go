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

// TestReportTargets checks the table's medians, ratios and target verdicts.
func TestReportTargets(t *testing.T) {
	a, _ := findWorkload("a")
	b, _ := findWorkload("b")
	d, _ := findWorkload("d")
	outs := []outcome{
		// a: median 130 vs 100 → ratio 1.30 ≥ 1.25, allocs 0.05 ≤ 0.1: both met.
		{w: a, runs: map[string][]result{
			"kprod": runsOf("kprod", "a", 0.05, 1, 10, 130, 200),
			"kgo":   runsOf("kgo", "a", 2, 1, 100, 90, 500),
		}},
		// b: ratio 0.9 < 1.0 and allocs 0.5 > 0.1: two misses.
		{w: b, runs: map[string][]result{
			"kprod": runsOf("kprod", "b", 0.5, 1, 90),
			"kgo":   runsOf("kgo", "b", 1, 1, 100),
		}},
		// d: p99 2ms vs 1ms: a miss; allocs met; no records/s target.
		{w: d, runs: map[string][]result{
			"kprod": runsOf("kprod", "d", 0, 2, 10000),
			"kgo":   runsOf("kgo", "d", 3, 1, 10000),
		}},
	}
	var buf bytes.Buffer
	missed := writeReport(&buf, outs)
	if missed != 3 {
		t.Errorf("missed = %d, want 3\n%s", missed, &buf)
	}
	out := buf.String()
	for _, want := range []string{
		"| a 100 B, none, linger 5ms | records/s | 130 | 100 | 1.30 | ratio ≥ 1.25 | yes |",
		"| b 1 KiB, lz4, linger 5ms | records/s | 90 | 100 | 0.90 | ratio ≥ 1.00 | **no** |",
		"| b 1 KiB, lz4, linger 5ms | allocs/record | 0.500 | 1.000 | 0.50 | kprod ≤ 0.1 | **no** |",
		"| d 100 B at 10k/s, linger 0 | p99 latency ms | 2.000 | 1.000 | 2.00 | kprod ≤ kgo | **no** |",
		"| a 100 B, none, linger 5ms | RSS growth MiB | 20.0 | 20.0 | 1.00 | kprod ≤ 48 | yes |",
		"a kprod records/s per run: 10 130 200; peak RSS MiB: 30.0 30.0 30.0",
		"d kgo   records/s per run: 10,000; p99 ms: 1.000; peak RSS MiB: 30.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| a 100 B, none, linger 5ms | p99 latency ms") {
		t.Errorf("latency rows shown for a throughput workload:\n%s", out)
	}
}

// TestReportOneLibrary checks a report with only kprod runs has no ratios
// and judges no comparative target.
func TestReportOneLibrary(t *testing.T) {
	a, _ := findWorkload("a")
	var buf bytes.Buffer
	missed := writeReport(&buf, []outcome{{w: a, runs: map[string][]result{"kprod": runsOf("kprod", "a", 1, 1, 5)}}})
	if missed != 0 {
		t.Errorf("missed = %d with one library, want 0", missed)
	}
	if !strings.Contains(buf.String(), "| a 100 B, none, linger 5ms | records/s | 5 | – | – |  |  |") {
		t.Errorf("unexpected report:\n%s", &buf)
	}
}
