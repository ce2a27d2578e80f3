package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

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
		"library":      func(r *result) { r.Lib = "nope" },
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
	for _, bad := range []string{"", ",", "a,z"} {
		if _, err := selectWorkloads(bad); !errors.Is(err, errUnknownWorkload) {
			t.Errorf("selectWorkloads(%q) = %v, want errUnknownWorkload", bad, err)
		}
	}
	libs, err := selectLibs("kgo,kprod,kgo,kprod-newrecord")
	if err != nil || strings.Join(libs, ",") != "kgo,kprod,kprod-newrecord" {
		t.Errorf("selectLibs = %v, %v", libs, err)
	}
	if _, err := selectLibs("kprod,nope"); !errors.Is(err, errUnknownLib) {
		t.Errorf("selectLibs with an unknown library = %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-runs", "0"}, {"-records", "2"}, {"-warmup", "-1"}, {"-rate", "0"}, {"-partitions", "0"},
		{"-topic", ""}, {"-run-timeout", "0s"}, {"-sample", "0"}, {"stray"}, {"-nope"},
		{"-latency-runs", "0"}, {"-broker", "zookeeper"},
		{"-kprod-props", "batch.size"}, {"-kprod-props", "acks=1,acks=0"},
	} {
		if _, err := parseFlags(args, new(strings.Builder)); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want errUsage", args, err)
		}
	}
	o, err := parseFlags([]string{"-kprod-props", "batch.size=65536, linger.ms = 10"}, new(strings.Builder))
	if err != nil || o.props["linger.ms"] != "10" || len(o.props) != 2 {
		t.Errorf("-kprod-props parsed to %v, %v", o, err)
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

// TestKgoDriverRecycles runs the kgo driver's callbacks through the load
// generator, answering each record at once as kgo later would: timed
// records reuse their slot's record and promise, the others come back
// through the free list, so a warm run allocates nothing per record.
func TestKgoDriverRecycles(t *testing.T) {
	gen := loadgen.New()
	d := newKgoDriver(nil, driverConfig{topic: "bench", gen: gen}, nil)
	seen := make(map[*kgo.Record]bool)
	send := func(_ int64, s *loadgen.Slot) {
		if s != nil {
			ks := slotState(s)
			seen[&ks.rec] = true
			ks.promise(&ks.rec, nil)
			return
		}
		r := d.record()
		seen[r] = true
		d.promise(r, nil)
	}
	ctx := context.Background()
	load := loadgen.Load{TimeEvery: 3}
	if err := gen.Run(ctx, loadgen.NewTally(300), load, send); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Errorf("%d distinct records for 300 answered at once, want 2 (one timed, one not)", len(seen))
	}
	var tl *loadgen.Tally
	allocs := testing.AllocsPerRun(5, func() {
		tl = loadgen.NewTally(3000)
		if err := gen.Run(ctx, tl, load, send); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 { // the tally
		t.Errorf("a warm run of 3000 records allocates %.0f times", allocs)
	}
	if tl.Answered() != 3000 || tl.Quantile(0.5) <= 0 {
		t.Errorf("answered %d, p50 %d", tl.Answered(), tl.Quantile(0.5))
	}
}
