package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// writeEnvironment prints the machine and settings a report was made on.
func writeEnvironment(w io.Writer, o *options) {
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s\n",
		runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "settings: %d runs per library and workload, %d records per throughput run (1 KiB: %d) after %d warm-up (1 KiB: %d), "+
		"latency runs %.1fs at %.0f/s, topic %q with %d partitions, one blackhole kfake broker in its own process\n\n",
		o.runs, o.records, o.records/4, o.warmup, o.warmup/4, o.latencySeconds, o.rate, o.topic, o.partitions)
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	return cpuModelFrom(b)
}

func cpuModelFrom(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
