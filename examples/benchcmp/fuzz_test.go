package main

import (
	"errors"
	"testing"
)

// FuzzParseResult checks a result line never panics the parser, fails only
// with errBadResult, and that what it accepts passes check.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		`benchcmp-result {"lib":"kprod","workload":"a","records":1,"seconds":1,"records_per_sec":1}`,
		`benchcmp-result {"lib":"kgo","workload":"d","records":5,"errors":6,"seconds":1}`,
		`benchcmp-result {"lib":"kgo","workload":"b","records":5,"seconds":1e309}`,
		`benchcmp-result null`, `benchcmp-result []`, "benchcmp-result", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseResult(line)
		if err != nil {
			if !errors.Is(err, errBadResult) {
				t.Fatalf("parseResult(%q): %v does not wrap errBadResult", line, err)
			}
			return
		}
		if err := r.check(); err != nil {
			t.Fatalf("parseResult(%q) accepted %+v, which fails check: %v", line, r, err)
		}
	})
}

// FuzzStatCPU checks the /proc/<pid>/stat reader never panics and never
// returns a negative time.
func FuzzStatCPU(f *testing.F) {
	for _, s := range []string{"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 0 0 20 0 1 0 5",
		"2 ((x)) R 1 2 3 4 5 6 7 8 9 10 11 12", ")", "1 (x) S 1 1 1 1 1 1 1 1 1 1 99999999999999999999 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stat []byte) {
		d, err := statCPU(stat)
		if err != nil {
			if !errors.Is(err, errProcStatus) {
				t.Fatalf("statCPU(%q): %v does not wrap errProcStatus", stat, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("statCPU(%q) = %v", stat, d)
		}
	})
}

// FuzzStatusField checks the /proc/self/status reader never panics and never
// returns a negative size.
func FuzzStatusField(f *testing.F) {
	f.Add([]byte("VmHWM:\t  100 kB\n"), "VmHWM")
	f.Add([]byte("VmHWM:\n"), "VmHWM")
	f.Add([]byte("VmHWM: -1 kB"), "VmHWM")
	f.Fuzz(func(t *testing.T, status []byte, field string) {
		n, err := statusField(status, field)
		if err != nil {
			if !errors.Is(err, errProcStatus) {
				t.Fatalf("statusField: %v does not wrap errProcStatus", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("statusField = %d", n)
		}
	})
}
