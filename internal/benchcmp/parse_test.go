package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseBrokerLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		bad  bool
	}{
		{line: "benchcmp-broker 127.0.0.1:9092\n", want: []string{"127.0.0.1:9092"}},
		{line: "benchcmp-broker 127.0.0.1:1,[::1]:2", want: []string{"127.0.0.1:1", "[::1]:2"}},
		{line: "benchcmp-broker 10.0.0.1:9092", bad: true}, // not loopback
		{line: "benchcmp-broker localhost:9092", bad: true},
		{line: "benchcmp-broker 127.0.0.1:0", bad: true},
		{line: "benchcmp-broker 127.0.0.1:70000", bad: true},
		{line: "benchcmp-broker 127.0.0.1", bad: true},
		{line: "benchcmp-broker ", bad: true},
		{line: "broker 127.0.0.1:9092", bad: true},
	} {
		got, err := parseBrokerLine(tc.line)
		if tc.bad {
			if !errors.Is(err, errBadBrokerLine) {
				t.Errorf("parseBrokerLine(%q) = %v, %v; want errBadBrokerLine", tc.line, got, err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("parseBrokerLine(%q) = %v, %v; want %v", tc.line, got, err, tc.want)
		}
	}
}

func goodResult() result {
	return result{Lib: "kprod", Workload: "a", Records: 100, Warmup: 10, Seconds: 1, RecordsPerSec: 100,
		CPUMicrosPerRec: 1, AllocsPerRec: 0.01, StartRSSKiB: 1, PeakRSSKiB: 2}
}

func TestParseResult(t *testing.T) {
	line, _ := json.Marshal(goodResult())
	r, err := parseResult(resultPrefix + string(line) + "\n")
	if err != nil || r != goodResult() {
		t.Fatalf("round trip: %+v, %v", r, err)
	}
	for name, mutate := range map[string]func(*result){
		"library":      func(r *result) { r.Lib = "sarama" },
		"workload":     func(r *result) { r.Workload = "z" },
		"no records":   func(r *result) { r.Records = 0 },
		"errors":       func(r *result) { r.Errors = 101 },
		"negative":     func(r *result) { r.CPUMicrosPerRec = -1 },
		"zero seconds": func(r *result) { r.Seconds = 0 },
		"warmup":       func(r *result) { r.Warmup = -1 },
	} {
		bad := goodResult()
		mutate(&bad)
		line, _ := json.Marshal(bad)
		if _, err := parseResult(resultPrefix + string(line)); !errors.Is(err, errBadResult) {
			t.Errorf("%s: parseResult accepted %s (err %v)", name, line, err)
		}
	}
	for _, line := range []string{"", "benchcmp-result", "benchcmp-result {", "result {}", `benchcmp-result {"lib":1}`} {
		if _, err := parseResult(line); !errors.Is(err, errBadResult) {
			t.Errorf("parseResult(%q) = %v, want errBadResult", line, err)
		}
	}
}

func TestStatusField(t *testing.T) {
	status := []byte("Name:\tbenchcmp\nVmPeak:\t  123 kB\nVmHWM:\t   4567 kB\nVmRSS:\t 4000 kB\nBad:\tx kB\nEmpty:\n")
	if n, err := statusField(status, "VmHWM"); err != nil || n != 4567 {
		t.Errorf("VmHWM = %d, %v; want 4567", n, err)
	}
	for _, f := range []string{"VmSwap", "Bad", "Empty", "Vm"} {
		if _, err := statusField(status, f); !errors.Is(err, errProcStatus) {
			t.Errorf("statusField(%q) = %v, want errProcStatus", f, err)
		}
	}
	if n, err := procStatusKiB("VmHWM"); err != nil || n <= 0 {
		t.Errorf("own VmHWM = %d, %v", n, err)
	}
}

func TestStatCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
	stat := []byte("42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 1000 10\n")
	if d, err := statCPU(stat); err != nil || d != 3*time.Second {
		t.Errorf("statCPU = %v, %v; want 3s", d, err)
	}
	for _, bad := range []string{"", "42 no-paren S 1", "42 (x) S 1 2 3", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 -5 1"} {
		if _, err := statCPU([]byte(bad)); !errors.Is(err, errProcStatus) {
			t.Errorf("statCPU(%q) = %v, want errProcStatus", bad, err)
		}
	}
}

func TestCPUModel(t *testing.T) {
	info := []byte("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.00GHz\nflags\t: fpu\n")
	if got := cpuModelFrom(info); got != "Test CPU @ 2.00GHz" {
		t.Errorf("cpuModelFrom = %q", got)
	}
	if got := cpuModelFrom([]byte("processor: 0\n")); got != "unknown CPU" {
		t.Errorf("cpuModelFrom without a model = %q", got)
	}
}

func TestSelect(t *testing.T) {
	ws, err := selectWorkloads(" d,a,,a ")
	if err != nil || len(ws) != 2 || ws[0].name != "d" || ws[1].name != "a" {
		t.Errorf("selectWorkloads = %v, %v", ws, err)
	}
	for _, bad := range []string{"", ",", "a,e"} {
		if _, err := selectWorkloads(bad); !errors.Is(err, errUnknownWorkload) {
			t.Errorf("selectWorkloads(%q) = %v, want errUnknownWorkload", bad, err)
		}
	}
	libs, err := selectLibs("kgo,kprod,kgo")
	if err != nil || strings.Join(libs, ",") != "kgo,kprod" {
		t.Errorf("selectLibs = %v, %v", libs, err)
	}
	if _, err := selectLibs("kprod,sarama"); !errors.Is(err, errUnknownLib) {
		t.Errorf("selectLibs with an unknown library = %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-runs", "0"}, {"-records", "2"}, {"-warmup", "-1"}, {"-rate", "0"}, {"-partitions", "0"},
		{"-topic", ""}, {"-run-timeout", "0s"}, {"-sample", "0"}, {"stray"}, {"-nope"},
	} {
		if _, err := parseFlags(args, new(strings.Builder)); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want errUsage", args, err)
		}
	}
	if _, err := parseProps("batch.size"); !errors.Is(err, errUsage) {
		t.Errorf("parseProps without '=' = %v", err)
	}
	if p, err := parseProps("batch.size=65536, linger.ms = 10"); err != nil || p["linger.ms"] != "10" || len(p) != 2 {
		t.Errorf("parseProps = %v, %v", p, err)
	}
}

// TestMakeValues checks values are distinct, sized exactly, cover the
// corpus, and are the same on every call (so kprod and kgo runs send the
// same bytes).
func TestMakeValues(t *testing.T) {
	for _, size := range []int{100, 1024} {
		a, b := makeValues(size), makeValues(size)
		seen := make(map[string]bool)
		for i := range a {
			if len(a[i]) != size || string(a[i]) != string(b[i]) {
				t.Fatalf("size %d value %d: %d bytes, or differs between calls", size, i, len(a[i]))
			}
			seen[string(a[i])] = true
		}
		if len(seen) != numValues(size) {
			t.Errorf("size %d: %d distinct values of %d", size, len(seen), numValues(size))
		}
		if total := len(a) * size; total < corpusBytes-size {
			t.Errorf("size %d: %d bytes of values, want about %d", size, total, corpusBytes)
		}
	}
}

func TestThrottle(t *testing.T) {
	start := time.Unix(0, 0)
	thr := newThrottle(10_000, start) // 100µs apart
	if d := thr.delay(100, start.Add(5*time.Millisecond)); d != 5*time.Millisecond {
		t.Errorf("record 100 at +5ms waits %v, want 5ms", d)
	}
	if d := thr.delay(100, start.Add(9800*time.Microsecond)); d != 0 {
		t.Errorf("record 100 at +9.8ms waits %v, want 0 (within minSleep)", d)
	}
	if d := newThrottle(0, start).delay(1<<40, start); d != 0 {
		t.Errorf("no rate waits %v", d)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 10_000; v++ {
		h.Record(v * 1000)
	}
	for _, q := range []float64{0.5, 0.99} {
		want := q * 10_000_000
		if got := float64(h.Quantile(q)); got < want*(1-1.0/32) || got > want*(1+1.0/32) {
			t.Errorf("Quantile(%v) = %v, want %v ± 1/32", q, got, want)
		}
	}
}

// TestHarnessRecycles checks that a sampled slot and a kgo record come back
// for reuse once answered, so a warm run allocates nothing in the harness.
func TestHarnessRecycles(t *testing.T) {
	h := newHarness()
	h.phase.Store(newTally(1 << 40))
	s := h.slot()
	s.kprodCB(goodMetadata(), nil)
	if h.slot() != s {
		t.Fatal("an answered slot was not reused")
	}
	r := h.kgoRecord()
	h.kgoPromise(r, nil)
	if h.kgoRecord() != r {
		t.Fatal("an answered kgo record was not reused")
	}
	allocs := testing.AllocsPerRun(200, func() {
		s := h.slot()
		s.kgoPromise(s.kgoRec, nil)
		h.kprodCB(goodMetadata(), nil)
		h.kgoPromise(h.kgoRecord(), nil)
	})
	if allocs != 0 {
		t.Errorf("harness allocates %.1f per record", allocs)
	}
	if n := h.phase.Load().answered.Load(); n < 600 {
		t.Errorf("tally counted %d answers, want ≥ 600", n)
	}
}
