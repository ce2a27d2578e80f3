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

// writeEnvironment prints the machine, broker and settings a report was
// made on, and the clients left out.
func writeEnvironment(w io.Writer, o *options, broker string, absent []string) {
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s\n",
		runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "broker: %s\n", broker)
	fmt.Fprintf(w, "settings: medians of %d alternating runs per client (latency workload: %d), %d records per throughput run (1 KiB: %d) after %d warm-up (1 KiB: %d), "+
		"latency runs %.1fs at %.0f/s, topic %q with %d partitions (f: 12), acks=all, idempotence on (sarama: 1 request in flight; kafka-go: none, it has no idempotent producer), "+
		"every client at the workload's batch.size, linger.ms and compression.type\n",
		o.runs, o.latencyRuns, o.records, o.records/4, o.warmup, o.warmup/4, o.latencySeconds, o.rate, o.topic, o.partitions)
	if len(absent) > 0 {
		fmt.Fprintf(w, "not measured: %s\n", strings.Join(absent, "; "))
	}
	fmt.Fprintln(w)
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
